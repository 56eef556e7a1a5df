/**
 * Several real server processes behind one address (a round-robin TCP proxy), sharing a Redis of
 * their own and one PostgreSQL database, for the failover tests and `npm run bench:failover`. Nodes
 * can be SIGKILLed, SIGTERMed and restarted (with the same or a new NODE_ID); `redis` reads what the
 * deployment's state says.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RoomHostRecord, ParticipantRecord } from '../../state/roomStateStore.js';
import { redisKeys } from '../../state/redisKeys.js';
import { RedisProcess } from './redisProcess.js';
import { RoundRobinProxy } from './roundRobinProxy.js';
import { startServerProcess, type ServerProcess } from './serverProcess.js';

export interface ClusterNode {
  nodeId: string;
  process: ServerProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

export class FailoverCluster {
  readonly nodes: ClusterNode[] = [];
  readonly redis: Redis;
  readonly #redisProcess: RedisProcess;
  readonly #proxy: RoundRobinProxy;
  readonly #env: Record<string, string>;

  private constructor(redis: RedisProcess, proxy: RoundRobinProxy, env: Record<string, string>) {
    this.#redisProcess = redis;
    this.#proxy = proxy;
    this.#env = env;
    this.redis = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  }

  /** `databaseUrl`: one PostgreSQL database shared by the nodes (accounts, history). */
  static async start(opts: {
    nodeIds: string[];
    databaseUrl: string;
    env?: Record<string, string>;
  }): Promise<FailoverCluster> {
    const redis = await RedisProcess.start();
    const proxy = await RoundRobinProxy.start([]);
    const cluster = new FailoverCluster(redis, proxy, {
      REDIS_URL: redis.url,
      DATABASE_URL: opts.databaseUrl,
      ...opts.env,
    });
    try {
      // One at a time: three cold starts at once starve two cores past the readiness timeout.
      for (const id of opts.nodeIds) await cluster.startNode(id);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** The one address clients use. */
  get url(): string {
    return this.#proxy.url;
  }

  node(nodeId: string): ClusterNode {
    const n = this.nodes.find((x) => x.nodeId === nodeId);
    if (!n) throw new Error(`no node ${nodeId}`);
    return n;
  }

  async startNode(nodeId: string): Promise<ClusterNode> {
    const process = await startServerProcess({ ...this.#env, NODE_ID: nodeId });
    const exited = new Promise<number | null>((resolve) => {
      if (process.child.exitCode !== null) resolve(process.child.exitCode);
      process.child.once('exit', (code) => resolve(code));
    });
    const node = { nodeId, process, exited };
    this.nodes.push(node);
    this.#syncProxy();
    return node;
  }

  /** Sends `signal`; the node leaves the proxy's rotation only once it exits (as a health check would). */
  signal(nodeId: string, signal: NodeJS.Signals): ClusterNode {
    const node = this.node(nodeId);
    node.process.child.kill(signal);
    void node.exited.then(() => {
      const i = this.nodes.indexOf(node);
      if (i >= 0) this.nodes.splice(i, 1);
      this.#syncProxy();
    });
    return node;
  }

  #syncProxy(): void {
    this.#proxy.setUpstreams(
      this.nodes.filter((n) => n.process.child.exitCode === null).map((n) => n.process.port),
    );
  }

  // ---- what Redis says --------------------------------------------------------------------------------

  // The nodes run with the default key prefix; every key name comes from state/redisKeys.ts.
  readonly #keys = redisKeys();

  async hostOf(room: string): Promise<RoomHostRecord | null> {
    const raw = await this.redis.get(this.#keys.roomHost(room));
    return raw ? (JSON.parse(raw) as RoomHostRecord) : null;
  }

  async participantsOf(room: string): Promise<ParticipantRecord[]> {
    return (await this.redis.hvals(this.#keys.roomParticipants(room))).map(
      (v) => JSON.parse(v) as ParticipantRecord,
    );
  }

  async liveNodeIds(): Promise<string[]> {
    return (await this.redis.hkeys(this.#keys.nodes)).sort();
  }

  /** Every room-state key that names `nodeId` (node entry, rooms index, hosts, participants). */
  async traces(nodeId: string): Promise<string[]> {
    const found: string[] = [];
    if ((await this.redis.hexists(this.#keys.nodes, nodeId)) === 1) found.push(`${this.#keys.nodes} field`);
    if ((await this.redis.exists(this.#keys.nodeRooms(nodeId))) === 1)
      found.push(this.#keys.nodeRooms(nodeId));
    const hosts = await this.redis.keys(`${this.#keys.roomPattern}:host`);
    for (const key of hosts) {
      const raw = await this.redis.get(key);
      if (raw && (JSON.parse(raw) as RoomHostRecord).nodeId === nodeId) found.push(key);
    }
    for (const key of await this.redis.keys(`${this.#keys.roomPattern}:participants`)) {
      const all = await this.redis.hvals(key);
      if (all.some((v) => (JSON.parse(v) as ParticipantRecord).nodeId === nodeId)) found.push(key);
    }
    return found;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.nodes.splice(0).map((n) => n.process.stop()));
    await this.#proxy.close();
    this.redis.disconnect();
    await this.#redisProcess.destroy();
  }
}

/** A development token (NODE_ENV=test enables them) for a fresh user. */
export async function devToken(
  baseUrl: string,
  displayName = `user-${randomUUID().slice(0, 6)}`,
): Promise<string> {
  const res = await fetch(`${baseUrl}/api/v1/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ displayName }),
  });
  if (!res.ok) throw new Error(`dev token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}
