/**
 * SQLite through Node's built-in `node:sqlite` (no native module to build): one file, WAL mode so
 * readers never wait for the writer, `synchronous=FULL` so an answered write survives a crash of the
 * machine, not only of the process.
 *
 * The driver is synchronous: a commit's fsync blocks the event loop (0.2–0.7 ms on this VM, measured
 * with `npm run bench:signaling`, where one fsync per call state change held call setups to ~300/s).
 * So writes are **group-committed**: every write (a statement or a whole transaction) issued during
 * one turn of the event loop is queued, and the next turn runs the queue in one transaction — one
 * fsync for all of them — each unit inside its own SAVEPOINT, so one failing unit is rolled back and
 * rejected alone. A write's promise settles only after the COMMIT, so "answered" still means durable.
 *
 * A transaction body may await, so the batch holds the database while it runs: reads (and the next
 * batch) wait for it, otherwise a read on this one connection could see a batch that is later rolled
 * back. A read does not wait for writes still queued: it sees what is committed, as a read on another
 * PostgreSQL pool connection would — a caller that needs its write read back awaits the write first.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { SqlDatabase, SqlExecutor, SqlRow, SqlValue } from './sqlDatabase.js';

/** Captured at load: a test's fake timers must not stall the database's commits. */
const nextTurn = globalThis.setImmediate;

/** `$1` → `?1`: SQLite binds `?NNN` by position, so one SQL text serves both databases. */
function adapt(sql: string): string {
  return sql.replace(/\$(\d+)/g, '?$1');
}

function bind(params: readonly SqlValue[]): SQLInputValue[] {
  return params.map((p) => (Buffer.isBuffer(p) ? new Uint8Array(p) : p));
}

/** One queued write: what to run in the batch, and how to answer its caller after the COMMIT. */
interface WriteUnit {
  execute: (tx: SqlExecutor) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite';
  readonly forUpdate = '';
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, ReturnType<DatabaseSync['prepare']>>();
  /** Writes waiting for the next group commit. */
  #queue: WriteUnit[] = [];
  #drainScheduled = false;
  /** Settles when the running batch ends; null when none runs. */
  #busy: Promise<void> | null = null;
  /** Batches committed and units in them (tests and benchmarks read these). */
  readonly stats = { batches: 0, units: 0 };
  /** Inside a batch: statements run directly, on the batch's transaction. */
  readonly #tx: SqlExecutor = {
    query: async <R extends SqlRow>(sql: string, params: readonly SqlValue[] = []) =>
      this.#querySync<R>(sql, params),
    run: async (sql: string, params: readonly SqlValue[] = []) => this.#runSync(sql, params),
  };

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

  /** Waits until no batch runs and every write issued so far is committed (or rejected). */
  async #settled(): Promise<void> {
    // Checked again after every wake-up, in the same tick as the caller's statement runs: no await
    // between. Bounded: each batch ends (commit or rollback) and takes the whole queue.
    while (this.#busy || this.#queue.length > 0) {
      if (this.#busy) await this.#busy;
      else await this.#drain();
    }
  }

  async query<T extends SqlRow = SqlRow>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    // Re-checked after every wake-up, in the same tick as the statement runs (no await between).
    while (this.#busy) await this.#busy;
    return this.#querySync<T>(sql, params);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.#enqueue((tx) => tx.run(sql, params));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#enqueue(fn);
  }

  #enqueue<T>(execute: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ execute, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#drainScheduled) {
        this.#drainScheduled = true;
        nextTurn(() => void this.#drain());
      }
    });
  }

  /** Runs everything queued as one batch (after any batch already running). Never rejects. */
  async #drain(): Promise<void> {
    this.#drainScheduled = false;
    while (this.#busy) await this.#busy;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    let release!: () => void;
    this.#busy = new Promise<void>((r) => (release = r));
    try {
      await this.#commit(batch);
    } finally {
      this.#busy = null;
      release();
    }
  }

  async #commit(batch: readonly WriteUnit[]): Promise<void> {
    const answers: Array<() => void> = [];
    try {
      // IMMEDIATE: take the write lock now, so a second process cannot interleave a write.
      this.#db.exec('BEGIN IMMEDIATE');
      for (const unit of batch) {
        this.#db.exec('SAVEPOINT unit');
        try {
          const value = await unit.execute(this.#tx);
          this.#db.exec('RELEASE unit');
          answers.push(() => unit.resolve(value));
        } catch (err) {
          this.#db.exec('ROLLBACK TO unit');
          this.#db.exec('RELEASE unit');
          answers.push(() => unit.reject(err));
        }
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      // BEGIN or COMMIT failed (I/O error, disk full, another process holding the lock past
      // busy_timeout): nothing of the batch is written, so every unit fails with that error.
      if (this.#db.isOpen && this.#db.isTransaction) this.#db.exec('ROLLBACK');
      for (const unit of batch) unit.reject(err);
      return;
    }
    this.stats.batches += 1;
    this.stats.units += batch.length;
    for (const answer of answers) answer();
  }

  /** A consistent copy of the live database into `target` (SQLite's online backup), while it serves. */
  async backupTo(target: string): Promise<void> {
    await this.#settled();
    this.#db.exec(`VACUUM INTO '${target.replaceAll("'", "''")}'`);
  }

  async close(): Promise<void> {
    await this.#settled();
    if (this.#db.isOpen) this.#db.close();
  }
}
