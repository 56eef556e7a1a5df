/**
 * The embedded SQLite group-commits: the writes of one event-loop turn share one transaction (one
 * fsync), each in its own savepoint — a failing write is rejected alone, a write answers only once
 * it is committed (another connection sees it), and a read never sees a batch that is rolled back.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../state/sql/sqliteDatabase.js';
import { tempDataDir } from './support/testDatabases.js';

describe('SQLite group commit', () => {
  let data: ReturnType<typeof tempDataDir>;
  let file: string;
  let db: SqliteDatabase;

  beforeEach(async () => {
    data = tempDataDir();
    file = path.join(data.dir, 'g.db');
    db = new SqliteDatabase(file);
    await db.run('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  });
  afterEach(async () => {
    await db.close();
    data.remove();
  });

  /** What a second connection (another process would see the same) reads from the file. */
  function committedRows(): { k: string; v: number }[] {
    const other = new DatabaseSync(file, { readOnly: true });
    try {
      return other.prepare('SELECT k, v FROM kv ORDER BY k').all() as { k: string; v: number }[];
    } finally {
      other.close();
    }
  }

  it('commits the writes of one turn together, and each answer means committed', async () => {
    const before = { ...db.stats };
    const writes = Array.from({ length: 50 }, (_, i) =>
      db
        .run('INSERT INTO kv (k, v) VALUES ($1, $2)', [`k${String(i).padStart(2, '0')}`, i])
        .then((changes) => {
          // Answered: already visible to another connection.
          expect(committedRows().some((r) => r.v === i)).toBe(true);
          return changes;
        }),
    );
    expect(await Promise.all(writes)).toEqual(Array(50).fill(1));
    expect(db.stats.batches - before.batches).toBe(1);
    expect(db.stats.units - before.units).toBe(50);
    expect(committedRows()).toHaveLength(50);
  });

  it('rejects only the failing write and the failing transaction; the rest of the batch commits', async () => {
    await db.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['taken', 0]);
    const ok1 = db.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['a', 1]);
    const dup = db.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['taken', 2]);
    const failingTx = db.transaction(async (tx) => {
      await tx.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['in-failed-tx', 3]);
      throw new Error('changed my mind');
    });
    const okTx = db.transaction(async (tx) => {
      await tx.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['b', 4]);
      const rows = await tx.query<{ n: number }>('SELECT count(*) AS n FROM kv');
      return Number(rows[0]!.n);
    });
    const results = await Promise.allSettled([ok1, dup, failingTx, okTx]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/changed my mind/);
    // The transaction saw the batch's earlier write ('a') and its own ('b'), not the rolled-back ones.
    expect((results[3] as PromiseFulfilledResult<number>).value).toBe(3);
    expect(committedRows().map((r) => r.k)).toEqual(['a', 'b', 'taken']);
  });

  it('a read never sees a batch that is rolled back, and sees an awaited write', async () => {
    let read: Promise<{ n: number }[]> | undefined;
    const failing = db.transaction(async (tx) => {
      await tx.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['doomed', 1]);
      // Issued while the batch holds the connection, which already holds the uncommitted row.
      read = db.query<{ n: number }>('SELECT count(*) AS n FROM kv');
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('roll it back');
    });
    await expect(failing).rejects.toThrow('roll it back');
    expect(Number((await read!)[0]!.n)).toBe(0);
    await db.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['kept', 7]);
    const rows = await db.query<{ v: number }>('SELECT v FROM kv WHERE k = $1', ['kept']);
    expect(rows.map((r) => Number(r.v))).toEqual([7]);
  });

  it('a write issued while a batch runs goes into the next batch', async () => {
    let inner: Promise<number> | undefined;
    const outer = db.transaction(async (tx) => {
      inner = db.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['later', 2]);
      await new Promise((r) => setTimeout(r, 20));
      await tx.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['first', 1]);
    });
    await outer;
    expect(committedRows().map((r) => r.k)).toEqual(['first']);
    expect(await inner).toBe(1);
    expect(committedRows().map((r) => r.k)).toEqual(['first', 'later']);
  });

  it('a write after close is rejected, not lost silently', async () => {
    await db.close();
    await expect(db.run('INSERT INTO kv (k, v) VALUES ($1, $2)', ['x', 1])).rejects.toThrow();
  });
});
