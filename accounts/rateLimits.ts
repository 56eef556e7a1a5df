/**
 * Request budgets that protect SMS spend and one-time codes from brute force. Backed by Redis when
 * the deployment has it (so every node counts against one budget), else by this process.
 */
import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { ErrorCode, ServiceError } from '../protocol/errors.js';

export interface LimitSpec {
  name: string;
  points: number;
  durationSeconds: number;
}

/** The limits chosen; see docs/accounts-api.md. */
export const LIMITS = {
  /** One code per number every 30 s (a resend button must wait). */
  codeResend: { name: 'code-resend', points: 1, durationSeconds: 30 },
  codePerPhone: { name: 'code-phone', points: 5, durationSeconds: 3600 },
  codePerIp: { name: 'code-ip', points: 30, durationSeconds: 3600 },
  verifyPerPhone: { name: 'verify-phone', points: 10, durationSeconds: 900 },
  contactsPerUser: { name: 'contacts-user', points: 30, durationSeconds: 60 },
} satisfies Record<string, LimitSpec>;

export class RateLimits {
  readonly #limiters = new Map<string, RateLimiterAbstract>();
  readonly #redis: Redis | undefined;
  readonly #prefix: string;

  constructor(opts: { redis?: Redis; keyPrefix: string }) {
    this.#redis = opts.redis;
    this.#prefix = opts.keyPrefix;
  }

  #limiter(spec: LimitSpec): RateLimiterAbstract {
    let limiter = this.#limiters.get(spec.name);
    if (!limiter) {
      const common = {
        keyPrefix: `${this.#prefix}rl:${spec.name}`,
        points: spec.points,
        duration: spec.durationSeconds,
      };
      limiter = this.#redis
        ? new RateLimiterRedis({ ...common, storeClient: this.#redis })
        : new RateLimiterMemory(common);
      this.#limiters.set(spec.name, limiter);
    }
    return limiter;
  }

  /** Spends one point of `spec` for `key`, or throws RATE_LIMITED (429) with the wait in seconds. */
  async consume(spec: LimitSpec, key: string): Promise<void> {
    try {
      await this.#limiter(spec).consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        const wait = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw new ServiceError(ErrorCode.RateLimited, `too many requests; try again in ${wait} s`, 429, wait);
      }
      throw err;
    }
  }
}
