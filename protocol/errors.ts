/**
 * Stable error codes shared by the server, the SDK and the bot. Clients branch on `code`,
 * never on `message`, so codes are never renamed once released.
 */
export const ErrorCode = {
  BadRequest: 'BAD_REQUEST',
  MalformedMessage: 'MALFORMED_MESSAGE',
  MessageTooLarge: 'MESSAGE_TOO_LARGE',
  UnknownMethod: 'UNKNOWN_METHOD',
  InvalidParams: 'INVALID_PARAMS',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  NotInRoom: 'NOT_IN_ROOM',
  AlreadyInRoom: 'ALREADY_IN_ROOM',
  RtpCapabilitiesRequired: 'RTP_CAPABILITIES_REQUIRED',
  TransportNotFound: 'TRANSPORT_NOT_FOUND',
  ProducerNotFound: 'PRODUCER_NOT_FOUND',
  ConsumerNotFound: 'CONSUMER_NOT_FOUND',
  CannotConsume: 'CANNOT_CONSUME',
  MediaError: 'MEDIA_ERROR',
  Unavailable: 'UNAVAILABLE',
  RateLimited: 'RATE_LIMITED',
  /** A per-user, per-address or per-peer quota is used up; `details.limit` names which. */
  LimitExceeded: 'LIMIT_EXCEEDED',
  /** The request does not fit the object's state (e.g. connecting a transport a second time). */
  InvalidState: 'INVALID_STATE',
  InvalidPhoneNumber: 'INVALID_PHONE_NUMBER',
  CodeInvalid: 'CODE_INVALID',
  CodeExpired: 'CODE_EXPIRED',
  CodeLocked: 'CODE_LOCKED',
  RegistrationTokenInvalid: 'REGISTRATION_TOKEN_INVALID',
  RefreshTokenInvalid: 'REFRESH_TOKEN_INVALID',
  RefreshTokenReused: 'REFRESH_TOKEN_REUSED',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  NotInCall: 'NOT_IN_CALL',
  CallEnded: 'CALL_ENDED',
  CallNotRinging: 'CALL_NOT_RINGING',
  AlreadyAnswered: 'ALREADY_ANSWERED',
  AlreadyInCall: 'ALREADY_IN_CALL',
  UnknownUser: 'UNKNOWN_USER',
  BlockListFull: 'BLOCK_LIST_FULL',
  /** `resume` cannot take the session back (gone, grace over, token used, buffer gap): join again. */
  ResumeFailed: 'RESUME_FAILED',
  Internal: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Machine-readable extras, e.g. { limit } of LIMIT_EXCEEDED or { retryAfterMs } of UNAVAILABLE. */
  details?: Record<string, string>;
}

/** An error whose code and message are safe to send to the client as they are. */
export class ServiceError extends Error {
  readonly code: ErrorCode;
  /** HTTP status used when this error leaves through the HTTP API. */
  readonly status: number;

  /** Seconds the client should wait before retrying (sent as Retry-After on 429/503). */
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    status = 400,
    retryAfterSeconds?: number,
    details?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
    this.details = details;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/**
 * UNAVAILABLE: a dependency (the state store) cannot be reached right now; retry after the hint.
 * The hint travels both as seconds (HTTP Retry-After) and as `details.retryAfterMs` (WebSocket
 * errors have no headers; details are strings on the wire, so it is a decimal string).
 */
export function unavailableError(
  retryAfterMs: number,
  message = 'temporarily unavailable; try again',
): ServiceError {
  return new ServiceError(ErrorCode.Unavailable, message, 503, Math.max(1, Math.ceil(retryAfterMs / 1000)), {
    retryAfterMs: String(retryAfterMs),
  });
}

/** WebSocket close codes (4000-4999 are reserved for applications). */
export const CloseCode = {
  TokenExpired: 4001,
  TokenInvalid: 4003,
  ServerShutdown: 4010,
  /**
   * The node is draining (SIGTERM): reconnect through the address you came from and another node
   * serves you. Not "rejoin here" (roomClosed): this node takes nothing new.
   */
  NodeDraining: 4012,
  /** The client did not read what the server sent (its backlog stayed over WS_MAX_BUFFERED_BYTES). */
  SlowReader: 4011,
  /** The session was resumed on another socket: this one is stale (the client has moved on). */
  SessionResumed: 4013,
} as const;

/** LIMIT_EXCEEDED (HTTP 429) naming the limit, so clients and metrics can tell which quota it was. */
export function limitExceeded(limit: string, message: string, retryAfterMs?: number): ServiceError {
  return new ServiceError(
    ErrorCode.LimitExceeded,
    message,
    429,
    retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(retryAfterMs / 1000)),
    { limit, ...(retryAfterMs === undefined ? {} : { retryAfterMs: String(retryAfterMs) }) },
  );
}
