/**
 * PostgreSQL through `pg`'s pool, for deployments with several nodes sharing one database. A
 * transaction holds one pooled client from BEGIN to COMMIT/ROLLBACK.
 */
import pg from 'pg';
import type { SqlDatabase, SqlExecutor, SqlRow, SqlValue } from './sqlDatabase.js';

export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres';
  readonly forUpdate = ' FOR UPDATE';
  readonly #pool: pg.Pool;

  constructor(url: string, opts: { max?: number } = {}) {
    this.#pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
    // An idle client losing its server connection must not crash the process; the next query fails
    // (and /healthz reports it) instead.
    this.#pool.on('error', () => undefined);
  }

  async query<T extends SqlRow = SqlRow>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.#pool.query<T>(sql, [...params])).rows;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.#pool.query(sql, [...params])).rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    const tx: SqlExecutor = {
      query: async <R extends SqlRow>(sql: string, params: readonly SqlValue[] = []) =>
        (await client.query<R>(sql, [...params])).rows,
      run: async (sql: string, params: readonly SqlValue[] = []) =>
        (await client.query(sql, [...params])).rowCount ?? 0,
    };
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      // A client whose ROLLBACK failed may be mid-transaction: destroy it rather than reuse it.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
