import { ErrorCode, ServiceError, unavailableError } from '../protocol/errors.js';
import { StoreUnavailableError } from '../state/storeUnavailableError.js';

/**
 * Maps anything thrown while serving a request onto a typed error the client can act on.
 * A state store that cannot be reached is UNAVAILABLE with a retry hint: the request may succeed
 * in a moment. mediasoup signals invalid parameters with TypeError and closed objects with
 * InvalidStateError; both are the client's doing. Anything else is ours and is reported without
 * internals.
 */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  if (err instanceof StoreUnavailableError) return unavailableError(err.retryAfterMs);
  if (err instanceof TypeError || (err instanceof Error && err.name === 'UnsupportedError')) {
    return new ServiceError(ErrorCode.MediaError, err.message);
  }
  // The worker rejects requests it cannot apply (e.g. a second connect()) with an Error whose
  // message names the channel method; those are the client's doing too.
  if (err instanceof Error && (err.name === 'InvalidStateError' || err.message.includes('[method:'))) {
    return new ServiceError(ErrorCode.MediaError, err.message);
  }
  return new ServiceError(ErrorCode.Internal, 'internal error', 500);
}
