/**
 * Messages addressed to one node: every node listens on a channel of its own and any node may send
 * to it. The room relay (rooms/relay/) carries its requests, answers and notifications on it, so a
 * socket held by one node can use a room hosted by another. Redis pub/sub across nodes (channel
 * names in state/redisKeys.ts); an in-process registry for the embedded single-node mode.
 *
 * Pub/sub keeps the order of what one connection publishes to one channel, which is what the relay
 * needs (an answer before the notifications that follow it). `send` returns how many listeners got
 * the message: 0 means no node of that id is listening, i.e. it is gone — the relay fails fast on it
 * instead of waiting for a timeout. Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7) so that count
 * stays true on a Redis Cluster too: a channel lives on the shard of its hash slot, where both its
 * publishers and its subscriber meet, whereas a plain PUBLISH there counts only the subscribers of
 * whichever node received it.
 */
import type { RedisClient } from './redisConnections.js';
import type { RedisKeys } from './redisKeys.js';

export type NodeMessageHandler = (text: string) => void;

export interface NodeRelayBus {
  /** Sends `text` to the node; resolves with how many listeners received it (0: nobody listens). */
  send(nodeId: string, text: string): Promise<number>;
  /** Starts receiving this node's messages; resolves once listening, with the function that stops. */
  listen(nodeId: string, handler: NodeMessageHandler): Promise<() => void>;
}

export class MemoryNodeRelayBus implements NodeRelayBus {
  readonly #handlers = new Map<string, NodeMessageHandler>();

  async send(nodeId: string, text: string): Promise<number> {
    const handler = this.#handlers.get(nodeId);
    // Delivered asynchronously and in order, as Redis would: a sender never re-enters its own code.
    if (handler) queueMicrotask(() => handler(text));
    return handler ? 1 : 0;
  }

  async listen(nodeId: string, handler: NodeMessageHandler): Promise<() => void> {
    if (this.#handlers.has(nodeId)) throw new Error(`node ${nodeId} is already listening`);
    this.#handlers.set(nodeId, handler);
    return () => {
      if (this.#handlers.get(nodeId) === handler) this.#handlers.delete(nodeId);
    };
  }
}

export class RedisNodeRelayBus implements NodeRelayBus {
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #keys: RedisKeys;
  readonly #handlers = new Map<string, NodeMessageHandler>();

  /**
   * `pub` and `sub` belong to the caller (a RedisConnections registry), which closes them; `sub`
   * is a connection of its own (a subscribed connection can send nothing else). ioredis
   * re-subscribes after a reconnect by itself.
   */
  constructor(opts: { pub: RedisClient; sub: RedisClient; keys: RedisKeys }) {
    this.#pub = opts.pub;
    this.#sub = opts.sub;
    this.#keys = opts.keys;
    this.#sub.on('smessage', (channel: string, text: string) => this.#handlers.get(channel)?.(text));
  }

  async send(nodeId: string, text: string): Promise<number> {
    // ioredis types SPUBLISH's reply loosely; Redis answers an integer (the receivers).
    return Number(await this.#pub.spublish(this.#keys.nodeChannel(nodeId), text));
  }

  async listen(nodeId: string, handler: NodeMessageHandler): Promise<() => void> {
    const channel = this.#keys.nodeChannel(nodeId);
    if (this.#handlers.has(channel)) throw new Error(`node ${nodeId} is already listening`);
    this.#handlers.set(channel, handler);
    try {
      await this.#sub.ssubscribe(channel);
    } catch (err) {
      this.#handlers.delete(channel);
      throw err;
    }
    return () => {
      if (this.#handlers.get(channel) !== handler) return;
      this.#handlers.delete(channel);
      // A failed unsubscribe leaves a channel whose messages nobody handles; the connection closes soon.
      this.#sub.sunsubscribe(channel).catch(() => undefined);
    };
  }
}
