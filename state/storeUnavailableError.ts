/**
 * The one signal that the shared state store cannot be reached right now (connection refused or
 * lost, or no answer within the command timeout). It is not a bug: the edges answer it with
 * UNAVAILABLE and a retry hint instead of INTERNAL, so clients retry rather than give up.
 * Kept free of any Redis import so every layer may recognise it.
 */
export class StoreUnavailableError extends Error {
  /** Which connection failed (see state/redisConnections.ts), for logs. */
  readonly connection: string;
  /** How long a client should wait before retrying. */
  readonly retryAfterMs: number;

  constructor(connection: string, cause: unknown, retryAfterMs = 1000) {
    super(`state store unavailable (${connection})`, { cause });
    this.name = 'StoreUnavailableError';
    this.connection = connection;
    this.retryAfterMs = retryAfterMs;
  }
}
