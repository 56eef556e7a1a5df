/**
 * The one small seam between the durable stores and the two databases they run on: SQLite
 * (embedded, through Node's built-in `node:sqlite`) and PostgreSQL (`pg`). Stores write one SQL
 * text with `$1, $2…` placeholders and portable syntax (ON CONFLICT, RETURNING); each database
 * adapts only the placeholders and how rows come back.
 */

export type SqlValue = string | number | bigint | Buffer | null;
export type SqlRow = Record<string, unknown>;

/** What both a database and a transaction on it can do. */
export interface SqlExecutor {
  query<T extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** For statements without rows: how many rows they changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface SqlDatabase extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /** Appended to a SELECT that must lock its rows until the transaction ends ('' on SQLite, whose transactions are exclusive). */
  readonly forUpdate: string;
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Integers come back as number (SQLite), string (PostgreSQL BIGINT) or bigint; callers want number. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') return Number(v);
  throw new TypeError(`expected an integer column, got ${typeof v}`);
}

/** BLOB (Uint8Array from SQLite) or bytea (Buffer from PostgreSQL) as a Buffer. */
export function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError('expected a binary column');
}
