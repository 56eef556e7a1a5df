/**
 * Delivers messages to a user's devices wherever their sockets are: every node subscribes to the
 * users it has sockets for, and a publish reaches all of them. Redis pub/sub across nodes (channel
 * names in state/redisKeys.ts); an in-process emitter for the embedded single-node mode.
 */
import { EventEmitter } from 'node:events';
import type { RedisClient } from './redisConnections.js';
import type { NotificationData } from '../protocol/signaling.js';
import type { RedisKeys } from './redisKeys.js';
import { StoreUnavailableError } from './storeUnavailableError.js';

/** Which of the user's devices a message is for (neither: all of them). */
export interface UserMessageTarget {
  onlyDeviceId?: string;
  exceptDeviceId?: string;
}

/** The call notifications relayed as they are to the devices' sockets. */
export type RelayedNotification = 'callIncoming' | 'callUpdated' | 'callAnsweredElsewhere';

/**
 * Every message the bus carries, told apart by `notification`: a call notification to relay to
 * the device as it is, or `deviceRevoked`, which closes the device's socket and is never relayed.
 */
export type UserMessage = UserMessageTarget &
  (
    | { [N in RelayedNotification]: { notification: N; data: NotificationData[N] } }[RelayedNotification]
    | { notification: 'deviceRevoked'; data: Record<string, never> }
  );

export type UserMessageHandler = (message: UserMessage) => void;

export interface UserMessageBus {
  /** Returns how many nodes had a subscriber for the user (0: no device of theirs is connected). */
  publish(userId: string, message: UserMessage): Promise<number>;
  /**
   * Subscribes this node to the user's messages until the returned function is called. While the
   * bus is unreachable the subscription is completed as soon as it is back.
   */
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
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #keys: RedisKeys;
  readonly #handlers = new Map<string, Set<UserMessageHandler>>();

  /**
   * `pub` and `sub` belong to the caller (a RedisConnections registry), which closes them;
   * `sub` must be a connection of its own (a subscribed connection can send nothing else).
   */
  constructor(opts: { pub: RedisClient; sub: RedisClient; keys: RedisKeys }) {
    this.#keys = opts.keys;
    this.#pub = opts.pub;
    this.#sub = opts.sub;
    this.#sub.on('message', (channel: string, raw: string) => {
      const handlers = this.#handlers.get(channel);
      if (!handlers) return;
      // Only our own nodes publish on these channels, always a UserMessage.
      const message = JSON.parse(raw) as UserMessage;
      for (const h of [...handlers]) h(message);
    });
    // Channels whose SUBSCRIBE failed while Redis was unreachable are subscribed when the
    // connection is back (ioredis itself re-subscribes only those that had succeeded). Subscribing
    // twice to a channel is harmless. A failure here is retried on the next 'ready'.
    this.#sub.on('ready', () => {
      const channels = [...this.#handlers.keys()];
      if (channels.length > 0) this.#sub.subscribe(...channels).catch(() => undefined);
    });
  }

  async publish(userId: string, message: UserMessage): Promise<number> {
    return this.#pub.publish(this.#keys.userChannel(userId), JSON.stringify(message));
  }

  async subscribe(userId: string, handler: UserMessageHandler): Promise<() => void> {
    const channel = this.#keys.userChannel(userId);
    let set = this.#handlers.get(channel);
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
      try {
        await this.#sub.subscribe(channel);
      } catch (err) {
        // Redis out of reach: keep the handler; the channel is subscribed once it is back ('ready'
        // above, or the timed-out SUBSCRIBE itself when a stalled server resumes). A connected
        // device thus still gets its calls after an outage instead of never again.
        if (!(err instanceof StoreUnavailableError)) {
          if (this.#handlers.get(channel)?.size === 0) this.#handlers.delete(channel);
          throw err;
        }
      }
    }
    set.add(handler);
    return () => {
      const current = this.#handlers.get(channel);
      if (!current) return;
      current.delete(handler);
      if (current.size === 0) {
        this.#handlers.delete(channel);
        // A failed unsubscribe only leaves a channel whose messages nobody handles (dropped above);
        // the connection's own error log reports the outage.
        this.#sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    this.#handlers.clear();
  }
}
