/**
 * Request budgets that protect SMS spend, one-time codes, the contact directory and callees' phones
 * from abuse.
 * Backed by Redis when the deployment has it (so every node counts against one budget), else by this
 * process. The limits themselves and the reasons behind them are listed in `abuseLimits` below and in
 * README "Security" / docs/accounts-api.md.
 */
import type { RedisKeys } from '../state/redisKeys.js';
import type { RedisClient } from '../state/redisConnections.js';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { AbuseLimitsConfig } from '../server/config.js';

export interface LimitSpec {
  name: string;
  points: number;
  durationSeconds: number;
}

const DAY = 86_400;

/** How long a (number, client) pair stays locked after too many wrong codes. */
export const CODE_LOCK_SECONDS = 15 * 60;

/**
 * The limits in force. Sign-in limits count per (number, client) wherever a stranger could
 * otherwise spend the owner's budget; the per-number and per-client caps only bound SMS spend and
 * spraying. Keys: "client" is `clientKey(ip)`, "pair" is `${phone}|${client}`.
 */
export function abuseLimits(cfg: AbuseLimitsConfig) {
  return {
    /** One code per number and client every 30 s (a resend button must wait). */
    codeResend: { name: 'code-resend', points: 1, durationSeconds: 30 },
    /** Codes one client may have sent to one number per hour: the owner's own resend budget. */
    codePerPair: { name: 'code-pair', points: 5, durationSeconds: 3600 },
    /** SMS-bombing cap per number across all clients; several addresses are needed to reach it. */
    codePerPhone: { name: 'code-phone', points: 20, durationSeconds: 3600 },
    /** Codes one client may request for all numbers together per hour (SMS pumping). */
    codePerIp: { name: 'code-ip', points: 30, durationSeconds: 3600 },
    /** Wrong codes per (number, client) per 15 min; the last one locks only that pair. */
    verifyFailures: {
      name: 'verify-fail',
      points: cfg.verifyMaxFailures,
      durationSeconds: CODE_LOCK_SECONDS,
    },
    /** Verification attempts per client for all numbers together per hour (spraying). */
    verifyPerIp: { name: 'verify-ip', points: 100, durationSeconds: 3600 },
    /** Lookup requests per account per minute (bursts). */
    contactsPerUser: { name: 'contacts-user', points: 30, durationSeconds: 60 },
    /** Numbers new to this account today; numbers it already asked about today are free. */
    contactsNewPerUser: { name: 'contacts-new-user', points: cfg.contactsPerUserDaily, durationSeconds: DAY },
    contactsNewPerIp: { name: 'contacts-new-ip', points: cfg.contactsPerIpDaily, durationSeconds: DAY },
    /** Marks "this account asked about this number today" (key: `${userId}|${phone}`). */
    contactsSeen: { name: 'contacts-seen', points: 1, durationSeconds: DAY },
    /** Distinct accounts that asked about one number today; past it the number is withheld. */
    contactsPerNumber: {
      name: 'contacts-number',
      points: cfg.contactsRequestersPerNumberDaily,
      durationSeconds: DAY,
    },
    /**
     * Call invitations one caller may send to one callee per window (key: `${callerId}|${calleeId}`):
     * stops ringing someone's phones over and over. Counted whether or not the callee blocked the
     * caller, so the answer never tells a blocked caller anything.
     */
    callInvitesPerCallee: {
      name: 'call-invite-callee',
      points: cfg.callInvitesPerCallee,
      durationSeconds: cfg.callInvitesPerCalleeWindowSeconds,
    },
  } satisfies Record<string, LimitSpec>;
}

export type AbuseLimits = ReturnType<typeof abuseLimits>;

export class RateLimits {
  readonly specs: AbuseLimits;
  readonly #limiters = new Map<string, RateLimiterAbstract>();
  readonly #redis: RedisClient | undefined;
  readonly #keys: Pick<RedisKeys, 'rateLimit'>;
  readonly #onLimited: (limit: string) => void;

  constructor(opts: {
    redis?: RedisClient;
    /** Where the counters live (state/redisKeys.ts: `{p}rl:{limit}:{key}`). */
    keys: Pick<RedisKeys, 'rateLimit'>;
    config: AbuseLimitsConfig;
    /** Called with the limit's name whenever a request is refused or an answer withheld (metrics). */
    onLimited?: (limit: string) => void;
  }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.specs = abuseLimits(opts.config);
    this.#onLimited = opts.onLimited ?? (() => undefined);
  }

  #limiter(spec: LimitSpec): RateLimiterAbstract {
    let limiter = this.#limiters.get(spec.name);
    if (!limiter) {
      const common = {
        keyPrefix: this.#keys.rateLimit(spec.name),
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

  /** Spends `points` of `spec` for `key`, or throws RATE_LIMITED (429) with the wait in seconds. */
  async consume(spec: LimitSpec, key: string, points = 1): Promise<void> {
    try {
      await this.#limiter(spec).consume(key, points);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        this.#onLimited(spec.name);
        const wait = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        // The wait also travels in details: WebSocket errors have no Retry-After header.
        throw new ServiceError(
          ErrorCode.RateLimited,
          `too many requests; try again in ${wait} s`,
          429,
          wait,
          {
            retryAfterMs: String(Math.max(1, Math.round(err.msBeforeNext))),
          },
        );
      }
      throw err;
    }
  }

  /** Spends one point if one is left; false (nothing thrown) when the budget is spent. */
  async tryConsume(spec: LimitSpec, key: string): Promise<boolean> {
    try {
      await this.#limiter(spec).consume(key, 1);
      return true;
    } catch (err) {
      if (err instanceof RateLimiterRes) return false;
      throw err;
    }
  }

  /** Points left for `key` without spending any (the full budget for an unknown key). */
  async remaining(spec: LimitSpec, key: string): Promise<number> {
    const res = await this.#limiter(spec).get(key);
    return res ? Math.max(0, spec.points - res.consumedPoints) : spec.points;
  }

  /** True once more than the budget was asked of `key` in the current window. */
  async exceeded(spec: LimitSpec, key: string): Promise<boolean> {
    const res = await this.#limiter(spec).get(key);
    return res !== null && res.consumedPoints > spec.points;
  }

  /** Seconds until `key` has budget again; 0 when some is left. */
  async secondsUntilFree(spec: LimitSpec, key: string): Promise<number> {
    const res = await this.#limiter(spec).get(key);
    if (!res || res.consumedPoints < spec.points) return 0;
    return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  }

  /** Counts one failure against `key`; returns how many are left (0: now locked until the window ends). */
  async penalize(spec: LimitSpec, key: string): Promise<number> {
    try {
      const limiter = this.#limiter(spec);
      const res = await limiter.consume(key, 1);
      if (res.remainingPoints === 0) {
        // The lock runs a full window from the last failure, not from the first one.
        await limiter.block(key, spec.durationSeconds);
        this.#onLimited(spec.name);
      }
      return res.remainingPoints;
    } catch (err) {
      if (err instanceof RateLimiterRes) return 0;
      throw err;
    }
  }

  /** Reports a refusal that was decided outside this class (e.g. a withheld contact) to the metrics. */
  reportLimited(spec: LimitSpec): void {
    this.#onLimited(spec.name);
  }
}
