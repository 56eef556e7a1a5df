/**
 * How fast one socket may make the server work: a token bucket per socket. Every frame is charged,
 * malformed ones too (answering them is work the client makes us do); past the budget a request is
 * answered RATE_LIMITED with the time until the next one is allowed.
 */
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import { TokenBucket } from './tokenBucket.js';

export class RequestBudget {
  readonly #bucket: TokenBucket;

  constructor(opts: { requestBurst: number; requestsPerSecond: number }) {
    this.#bucket = new TokenBucket({ capacity: opts.requestBurst, ratePerSecond: opts.requestsPerSecond });
  }

  /** Charges one request; returns the refusal to answer with when the budget is spent. */
  charge(): ServiceError | undefined {
    const waitMs = this.#bucket.take();
    if (waitMs === 0) return undefined;
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    return new ServiceError(
      ErrorCode.RateLimited,
      'too many requests on this connection',
      429,
      retryAfterSeconds,
      {
        limit: 'requests_per_socket',
        retryAfterMs: String(waitMs),
      },
    );
  }
}
