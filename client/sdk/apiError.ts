/**
 * The error every AccountClient call rejects with: the server's typed error (`{ error: { code,
 * message, details } }`, see protocol/accounts.ts) with its HTTP status, or a local one for a request
 * that never got a proper answer.
 */
import { ATTEMPTS_LEFT_DETAIL } from '../../protocol/accountLimits.js';

/** The server's codes (docs/accounts-api.md), plus local ones for failures that never got an answer. */
export type ApiErrorCode =
  | 'INVALID_PARAMS'
  | 'MALFORMED_MESSAGE'
  | 'MESSAGE_TOO_LARGE'
  | 'INVALID_PHONE_NUMBER'
  | 'CODE_INVALID'
  | 'CODE_EXPIRED'
  | 'CODE_LOCKED'
  | 'RATE_LIMITED'
  | 'REGISTRATION_TOKEN_INVALID'
  | 'REFRESH_TOKEN_INVALID'
  | 'REFRESH_TOKEN_REUSED'
  | 'UNAUTHORIZED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  /** local: no session to authenticate with */
  | 'NOT_SIGNED_IN'
  /** local: the server could not be reached */
  | 'NETWORK_ERROR'
  /** local: no answer within the timeout */
  | 'TIMEOUT'
  /** local: an answer that is not the documented JSON */
  | 'BAD_RESPONSE'
  | (string & {});

export class ApiError extends Error {
  /** HTTP status; 0 when there was no answer. */
  readonly status: number;
  readonly code: ApiErrorCode;
  /** From `Retry-After` (429s, 503s). */
  readonly retryAfterSeconds: number | undefined;
  /** Wrong-code answers: how many tries are left before the number is locked (`details.attemptsLeft`). */
  readonly attemptsLeft: number | undefined;
  /** The server's machine-readable extras (`error.details`). */
  readonly details: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: ApiErrorCode,
    message: string,
    extra: { retryAfterSeconds?: number; details?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.details = extra.details ?? {};
    const left = Number(this.details[ATTEMPTS_LEFT_DETAIL]);
    this.attemptsLeft =
      this.details[ATTEMPTS_LEFT_DETAIL] !== undefined && Number.isInteger(left) ? left : undefined;
  }

  static async fromResponse(res: Response): Promise<ApiError> {
    const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'));
    let error: { code?: unknown; message?: unknown; details?: unknown } | undefined;
    try {
      const body = (await res.json()) as { error?: unknown };
      if (typeof body.error === 'object' && body.error !== null) error = body.error;
    } catch {
      // not JSON (a proxy's error page): fall back to the status
    }
    const code = typeof error?.code === 'string' ? error.code : `HTTP_${res.status}`;
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${res.status}`;
    return new ApiError(res.status, code, message, {
      retryAfterSeconds,
      details: stringFields(error?.details),
    });
  }
}

export function notSignedIn(): ApiError {
  return new ApiError(401, 'NOT_SIGNED_IN', 'not signed in');
}

function stringFields(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(
    Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
