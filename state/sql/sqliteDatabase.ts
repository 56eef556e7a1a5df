/**
 * SQLite through Node's built-in `node:sqlite` (no native module to build): one file, WAL mode so
 * readers never wait for the writer, `synchronous=FULL` so an answered write survives a crash of the
 * machine, not only of the process.
 *
 * The driver is synchronous, so every statement finishes before the event loop moves on. A
 * transaction body may await, though, so transactions (and statements arriving while one is open)
 * queue behind each other: otherwise a statement of another request would slip into — and be
 * rolled back with — somebody else's transaction.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { SqlDatabase, SqlExecutor, SqlRow, SqlValue } from './sqlDatabase.js';

/** `$1` → `?1`: SQLite binds `?NNN` by position, so one SQL text serves both databases. */
function adapt(sql: string): string {
  return sql.replace(/\$(\d+)/g, '?$1');
}

function bind(params: readonly SqlValue[]): SQLInputValue[] {
  return params.map((p) => (Buffer.isBuffer(p) ? new Uint8Array(p) : p));
}

export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite';
  readonly forUpdate = '';
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, ReturnType<DatabaseSync['prepare']>>();
  /** Settles when the open transaction ends; null when none is open. */
  #busy: Promise<void> | null = null;

  constructor(file: string) {
    this.file = file;
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.#db = new DatabaseSync(file);
    this.#db.exec('PRAGMA journal_mode = WAL');
    this.#db.exec('PRAGMA synchronous = FULL');
    this.#db.exec('PRAGMA foreign_keys = ON');
    // Another process (a backup, the migration command) may hold the lock for a moment.
    this.#db.exec('PRAGMA busy_timeout = 5000');
  }

  #prepare(sql: string): ReturnType<DatabaseSync['prepare']> {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.#db.prepare(adapt(sql));
      this.#statements.set(sql, st);
    }
    return st;
  }

  #querySync<T extends SqlRow>(sql: string, params: readonly SqlValue[]): T[] {
    return this.#prepare(sql).all(...bind(params)) as T[];
  }

  #runSync(sql: string, params: readonly SqlValue[]): number {
    return Number(this.#prepare(sql).run(...bind(params)).changes);
  }

  async query<T extends SqlRow = SqlRow>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    // Checked again after every wake-up, in the same tick as the statement runs: no await between.
    // Bounded by the transactions queued ahead, each of which ends (commit or rollback).
    while (this.#busy) await this.#busy;
    return this.#querySync<T>(sql, params);
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    while (this.#busy) await this.#busy;
    return this.#runSync(sql, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    while (this.#busy) await this.#busy;
    let release!: () => void;
    this.#busy = new Promise<void>((r) => (release = r));
    const tx: SqlExecutor = {
      query: async <R extends SqlRow>(sql: string, params: readonly SqlValue[] = []) =>
        this.#querySync<R>(sql, params),
      run: async (sql: string, params: readonly SqlValue[] = []) => this.#runSync(sql, params),
    };
    try {
      // IMMEDIATE: take the write lock now, so a second process cannot interleave a write.
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(tx);
        this.#db.exec('COMMIT');
        return result;
      } catch (err) {
        this.#db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.#busy = null;
      release();
    }
  }

  /** A consistent copy of the live database into `target` (SQLite's online backup), while it serves. */
  async backupTo(target: string): Promise<void> {
    while (this.#busy) await this.#busy;
    this.#db.exec(`VACUUM INTO '${target.replaceAll("'", "''")}'`);
  }

  async close(): Promise<void> {
    while (this.#busy) await this.#busy;
    if (this.#db.isOpen) this.#db.close();
  }
}
