/**
 * The short-lived records of signing in: one-time code records (with their wrong-attempt count) and
 * single-use registration tickets; lockouts are per-client counters (accounts/rateLimits.ts). All of
 * them expire within minutes and losing them only means asking for a new code, so they stay in Redis
 * (or memory when embedded) rather than in the database with the accounts.
 */
export interface CodeRecord {
  /** HMAC of the code; the code itself is never stored. */
  hash: string;
  expiresAt: number;
  attempts: number;
}

export interface VerificationStore {
  /** Replaces any earlier code for the phone. */
  putCode(phone: string, code: CodeRecord, ttlSeconds: number): Promise<void>;
  getCode(phone: string): Promise<CodeRecord | null>;
  /** Counts a wrong attempt; returns the new count (0 when no code is live). */
  addCodeAttempt(phone: string): Promise<number>;
  deleteCode(phone: string): Promise<void>;

  /** Stores a single-use registration ticket (id → phone). */
  putRegistrationTicket(ticketId: string, phone: string, ttlSeconds: number): Promise<void>;
  /** Returns the phone and deletes the ticket, atomically; null if unknown, used or expired. */
  takeRegistrationTicket(ticketId: string): Promise<string | null>;
}
