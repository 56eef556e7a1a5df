/**
 * Delivers messages to a user's devices wherever their sockets are: every node subscribes to the
 * users it has sockets for, and a publish reaches all of them. Redis pub/sub across nodes; an
 * in-process emitter for the embedded single-node mode.
 */
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';

export interface UserMessage {
  /** Name of the signaling notification to deliver. */
  notification: string;
  data: unknown;
  /** Deliver only to this device / to every device but this one. */
  onlyDeviceId?: string;
  exceptDeviceId?: string;
}

export type UserMessageHandler = (message: UserMessage) => void;

export interface UserMessageBus {
  /** Returns how many nodes had a subscriber for the user (0: no device of theirs is connected). */
  publish(userId: string, message: UserMessage): Promise<number>;
  /** Subscribes this node to the user's messages until the returned function is called. */
  subscribe(userId: string, handler: UserMessageHandler): Promise<() => void>;
  close(): Promise<void>;
}

export class MemoryUserMessageBus implements UserMessageBus {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  async publish(userId: string, message: UserMessage): Promise<number> {
    const listeners = this.#emitter.listenerCount(userId);
    // Deliver asynchronously, as Redis would: a publisher never re-enters its own handlers.
    if (listeners > 0) queueMicrotask(() => this.#emitter.emit(userId, structuredClone(message)));
    return listeners > 0 ? 1 : 0;
  }

  async subscribe(userId: string, handler: UserMessageHandler): Promise<() => void> {
    this.#emitter.on(userId, handler);
    return () => this.#emitter.off(userId, handler);
  }

  async close(): Promise<void> {
    this.#emitter.removeAllListeners();
  }
}

export class RedisUserMessageBus implements UserMessageBus {
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #prefix: string;
  readonly #handlers = new Map<string, Set<UserMessageHandler>>();

  constructor(opts: { url: string; keyPrefix?: string }) {
    this.#prefix = `${opts.keyPrefix ?? 'cs:'}user-messages:`;
    this.#pub = new Redis(opts.url, { maxRetriesPerRequest: 2 });
    this.#sub = new Redis(opts.url);
    this.#pub.on('error', () => undefined);
    this.#sub.on('error', () => undefined);
    this.#sub.on('message', (channel: string, raw: string) => {
      const handlers = this.#handlers.get(channel);
      if (!handlers) return;
      const message = JSON.parse(raw) as UserMessage;
      for (const h of [...handlers]) h(message);
    });
  }

  async publish(userId: string, message: UserMessage): Promise<number> {
    return this.#pub.publish(this.#prefix + userId, JSON.stringify(message));
  }

  async subscribe(userId: string, handler: UserMessageHandler): Promise<() => void> {
    const channel = this.#prefix + userId;
    let set = this.#handlers.get(channel);
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
      await this.#sub.subscribe(channel);
    }
    set.add(handler);
    return () => {
      const current = this.#handlers.get(channel);
      if (!current) return;
      current.delete(handler);
      if (current.size === 0) {
        this.#handlers.delete(channel);
        this.#sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    await Promise.all([
      this.#pub.quit().catch(() => this.#pub.disconnect()),
      this.#sub.quit().catch(() => this.#sub.disconnect()),
    ]);
  }
}
