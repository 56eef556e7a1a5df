/** Rate limits for tests that build a CallService directly: defaults, with a call budget no test reaches. */
import { RateLimits } from '../../accounts/rateLimits.js';
import { redisKeys } from '../../state/redisKeys.js';

/** In memory; the per-callee limit itself is tested over WebSocket (test/calls.blocking.test.ts). */
export function unreachedCallLimits(): RateLimits {
  return new RateLimits({
    keys: redisKeys('limits:'),
    config: {
      verifyMaxFailures: 5,
      contactsPerUserDaily: 5000,
      contactsPerIpDaily: 20_000,
      contactsRequestersPerNumberDaily: 100,
      callInvitesPerCallee: 1000,
      callInvitesPerCalleeWindowSeconds: 600,
      serverTokensPerKeyPerMinute: 600,
    },
  });
}
