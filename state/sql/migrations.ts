/**
 * The database schema as numbered migrations, applied in order at start-up and recorded in
 * `schema_migrations`, so every node and every restored backup converges on the same schema. A
 * migration, once released, is never edited: change the schema by appending a new one.
 *
 * Several nodes may start at once against one PostgreSQL: an advisory lock makes them apply the
 * migrations one after another (the later ones then find nothing left to do).
 */
import type { SqlDatabase } from './sqlDatabase.js';

export interface Migration {
  version: number;
  name: string;
  /** Statements, run in one transaction with the row that records the migration. */
  statements(dialect: SqlDatabase['dialect']): string[];
}

/** An arbitrary key of this service's own for PostgreSQL's advisory lock. */
const LOCK_ID = 7_340_014;

const blob = (dialect: SqlDatabase['dialect']): string => (dialect === 'postgres' ? 'BYTEA' : 'BLOB');

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, devices, photos, call history',
    statements: (d) => [
      `CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        phone TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        photo_etag TEXT
      )`,
      `CREATE TABLE photos (
        user_id TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
        etag TEXT NOT NULL,
        full_webp ${blob(d)} NOT NULL,
        thumb_webp ${blob(d)} NOT NULL
      )`,
      // rotated_hashes and last_rotation are JSON: read and written only as a whole, under a row lock.
      `CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        refresh_hash TEXT NOT NULL,
        rotated_hashes TEXT NOT NULL,
        refresh_expires_at BIGINT NOT NULL,
        last_rotation TEXT
      )`,
      `CREATE INDEX devices_by_user ON devices (user_id)`,
      // The call record as last saved (JSON), kept for history after the live state in Redis is gone.
      `CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        version BIGINT NOT NULL
      )`,
      `CREATE TABLE call_history (
        user_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (user_id, call_id)
      )`,
      `CREATE INDEX call_history_newest ON call_history (user_id, seq)`,
      `CREATE TABLE missed_calls (
        user_id TEXT PRIMARY KEY,
        unseen INTEGER NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: 'block lists',
    statements: () => [
      // No foreign keys to users: accounts are never deleted today, and a block outliving a
      // deleted account must not fail that deletion.
      `CREATE TABLE blocks (
        user_id TEXT NOT NULL,
        blocked_user_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (user_id, blocked_user_id)
      )`,
      // A call invitation asks "who among the callees blocked this caller": by blocked user.
      `CREATE INDEX blocks_by_blocked ON blocks (blocked_user_id, user_id)`,
    ],
  },
  {
    version: 3,
    name: 'external accounts',
    statements: () => [
      // Accounts an embedding messenger's backend created; null for phone accounts. Unique where set
      // (both SQLite and PostgreSQL let a UNIQUE index hold many NULLs). Their phone column holds a
      // placeholder derived from it: see storedPhone in sqlAccountStore.ts.
      `ALTER TABLE users ADD COLUMN external_id TEXT`,
      `CREATE UNIQUE INDEX users_by_external_id ON users (external_id)`,
    ],
  },
];

/** Applies the migrations not yet recorded; returns the versions it applied. */
export async function migrate(
  db: SqlDatabase,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  await db.transaction(async (tx) => {
    // Two nodes creating the table at once would collide in PostgreSQL's catalog: take turns.
    if (db.dialect === 'postgres') await tx.query(`SELECT pg_advisory_xact_lock(${LOCK_ID})`);
    await tx.run(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at BIGINT NOT NULL
      )`,
    );
  });
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const done = await db.transaction(async (tx) => {
      // Held until this transaction ends; a second node waits here, then sees the row below.
      if (db.dialect === 'postgres') await tx.query(`SELECT pg_advisory_xact_lock(${LOCK_ID})`);
      const rows = await tx.query('SELECT version FROM schema_migrations WHERE version = $1', [m.version]);
      if (rows.length > 0) return false;
      for (const sql of m.statements(db.dialect)) await tx.run(sql);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        Date.now(),
      ]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}

/** The highest version recorded (0 on an empty database). */
export async function schemaVersion(db: SqlDatabase): Promise<number> {
  const rows = await db.query<{ v: unknown }>('SELECT MAX(version) AS v FROM schema_migrations');
  return rows[0]?.v === null || rows[0]?.v === undefined ? 0 : Number(rows[0].v);
}
