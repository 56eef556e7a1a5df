/**
 * Several real server processes behind one address: a Redis of their own, one PostgreSQL database
 * shared by all of them (so accounts signed up on one are known to all), and a round-robin TCP proxy
 * in front. What a node holds is read from outside, as an operator would: Redis and /metrics.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisProcess } from './redisProcess.js';
import { RoundRobinProxy } from './roundRobinProxy.js';
import { startServerProcess, type ServerProcess } from './serverProcess.js';
import { postgresDatabaseUrl } from './testDatabases.js';

export interface NodeCluster {
  nodes: ServerProcess[];
  /** NODE_ID of each node, in the order of `nodes`. */
  nodeIds: string[];
  proxy: RoundRobinProxy;
  redis: RedisProcess;
  /** A connection for reading the nodes' shared state (default key prefix "cs:"). */
  admin: Redis;
  /** The node listening on `port`. */
  nodeAt(port: number): ServerProcess;
  close(): Promise<void>;
}

export async function startNodeCluster(
  count: number,
  env: Record<string, string> = {},
): Promise<NodeCluster> {
  const redis = await RedisProcess.start();
  const run = randomUUID().slice(0, 8);
  const nodes: ServerProcess[] = [];
  const nodeIds = Array.from({ length: count }, (_, i) => `relay-${run}-${String.fromCharCode(97 + i)}`);
  let proxy: RoundRobinProxy | undefined;
  let admin: Redis | undefined;
  const close = async (): Promise<void> => {
    admin?.disconnect();
    await proxy?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.destroy();
  };
  try {
    const database = await postgresDatabaseUrl(`relay_${run}`);
    // One by one: two cores, and each start compiles the server and spawns a media worker.
    for (const nodeId of nodeIds) {
      nodes.push(
        await startServerProcess({ REDIS_URL: redis.url, DATABASE_URL: database, NODE_ID: nodeId, ...env }),
      );
    }
    proxy = await RoundRobinProxy.start(nodes.map((n) => n.port));
    admin = new Redis(redis.url);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    nodes,
    nodeIds,
    proxy,
    redis,
    admin,
    nodeAt: (port) => {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no node on port ${port}`);
      return node;
    },
    close,
  };
}

/** Room sessions a node relays (edge: it holds the socket; hosted: it holds the room), from /metrics. */
export async function relayedSessions(node: ServerProcess): Promise<{ edge: number; hosted: number }> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const read = (side: string): number => {
    const m = new RegExp(`^calling_relayed_room_sessions\\{side="${side}"\\} (\\d+)$`, 'm').exec(text);
    if (!m) throw new Error(`no relayed sessions gauge (${side}) in /metrics`);
    return Number(m[1]);
  };
  return { edge: read('edge'), hosted: read('hosted') };
}
