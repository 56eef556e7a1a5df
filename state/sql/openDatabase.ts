/**
 * Opens the database the configuration names and brings its schema up to date: PostgreSQL for
 * several nodes, otherwise SQLite in a file under the data directory.
 */
import { migrate } from './migrations.js';
import { PostgresDatabase } from './postgresDatabase.js';
import type { SqlDatabase } from './sqlDatabase.js';

/** Where durable records live; 'memory' keeps them in this process only (tests, throwaway demos). */
export type DatabaseTarget =
  { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string } | { kind: 'memory' };

export async function openDatabase(
  target: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string },
): Promise<SqlDatabase> {
  const db = target.kind === 'postgres' ? new PostgresDatabase(target.url) : await openSqlite(target.file);
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

/** Loaded on demand: `node:sqlite` exists from Node 22.5, and PostgreSQL deployments need not have it. */
async function openSqlite(file: string): Promise<SqlDatabase> {
  const mod = await import('./sqliteDatabase.js').catch((err: Error) => {
    throw new Error(
      `the embedded database needs Node.js 24 (node:sqlite; this is ${process.version}); ` +
        `or set DATABASE_URL: ${err.message}`,
    );
  });
  return new mod.SqliteDatabase(file);
}

/** For logs: the database without credentials. */
export function describeTarget(target: DatabaseTarget): string {
  if (target.kind === 'memory') return 'in memory (lost on exit)';
  if (target.kind === 'sqlite') return `SQLite ${target.file}`;
  const u = new URL(target.url);
  return `PostgreSQL ${u.hostname}:${u.port || 5432}${u.pathname}`;
}
