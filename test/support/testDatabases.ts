/**
 * Databases of a test's own: a fresh SQLite file in a temp dir, or a fresh database on the test
 * run's PostgreSQL (named after a key so that several services of one test can share it).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { openDatabase } from '../../state/sql/openDatabase.js';
import type { SqlDatabase } from '../../state/sql/sqlDatabase.js';
import { createDatabase } from './postgresProcess.js';

export type SqlKind = 'sqlite' | 'postgres';
export const sqlKinds: SqlKind[] = ['sqlite', 'postgres'];

/** A PostgreSQL database named for `key` (created on first use) on the run's server. */
export async function postgresDatabaseUrl(key: string): Promise<string> {
  const name = `t_${key.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`.slice(0, 63);
  return createDatabase(inject('postgresUrl'), name);
}

/** A temp dir removed by the returned function. */
export function tempDataDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'calling-data-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An empty, migrated database of the given kind; `close` also removes what it left on disk. */
export async function freshDatabase(kind: SqlKind): Promise<{ db: SqlDatabase; close: () => Promise<void> }> {
  if (kind === 'postgres') {
    const url = await postgresDatabaseUrl(`fresh_${randomUUID()}`);
    const db = await openDatabase({ kind: 'postgres', url });
    return { db, close: () => db.close() };
  }
  const data = tempDataDir();
  const db = await openDatabase({ kind: 'sqlite', file: path.join(data.dir, 'test.db') });
  return {
    db,
    close: async () => {
      await db.close();
      data.remove();
    },
  };
}
