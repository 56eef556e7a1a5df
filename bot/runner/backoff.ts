/**
 * The bot's rejoin settings, as the CLI and the load test give them, turned into the SDK's one
 * reconnect policy (client/sdk/reconnectPolicy.ts), so bots back off exactly like apps do.
 */
import { DefaultReconnectPolicy, type ReconnectPolicy } from '../../client/sdk/reconnectPolicy.js';

export { sleep } from '../../client/sdk/reconnectPolicy.js';

export interface BackoffPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8_000 };

/**
 * Every attempt waits first, the first one too (jittered): after a server blip a room's worth of bots
 * must not rejoin in the same millisecond.
 */
export function reconnectPolicyFor(backoff: BackoffPolicy, random?: () => number): ReconnectPolicy {
  return new DefaultReconnectPolicy({
    ...backoff,
    firstAttemptImmediate: false,
    ...(random ? { random } : {}),
  });
}
