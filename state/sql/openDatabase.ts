/**
 * Opens the database the configuration names and brings its schema up to date: PostgreSQL for
 * several nodes, otherwise SQLite in a file under the data directory.
 */
import { migrate } from './migrations.js';
import { PostgresDatabase } from './postgresDatabase.js';
import type { SqlDatabase } from './sqlDatabase.js';
import { SqliteDatabase } from './sqliteDatabase.js';

/** Where durable records live; 'memory' keeps them in this process only (tests, throwaway demos). */
export type DatabaseTarget =
  { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string } | { kind: 'memory' };

export async function openDatabase(
  target: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string },
): Promise<SqlDatabase> {
  const db = target.kind === 'postgres' ? new PostgresDatabase(target.url) : new SqliteDatabase(target.file);
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

/** For logs: the database without credentials. */
export function describeTarget(target: DatabaseTarget): string {
  if (target.kind === 'memory') return 'in memory (lost on exit)';
  if (target.kind === 'sqlite') return `SQLite ${target.file}`;
  const u = new URL(target.url);
  return `PostgreSQL ${u.hostname}:${u.port || 5432}${u.pathname}`;
}
