/**
 * Backups restore into a working service: a backup taken while the service runs (SQLite: the
 * `db:backup` command; PostgreSQL: pg_dump), restored into a fresh data directory / database
 * (copy the file; pg_restore), serves the users it holds — a device signs in with the refresh
 * token it had before the backup, and an account made after the backup is not there.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SQLITE_FILE_NAME } from '../server/config.js';
import { postgresBinDir } from './support/postgresProcess.js';
import { refreshAndReadMe, signUp } from './support/signUp.js';
import { postgresDatabaseUrl, tempDataDir } from './support/testDatabases.js';
import { startTestService } from './support/testService.js';
import { apiClient } from './support/httpApi.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Takes a backup of `env`'s database into `workDir`; returns the env of a restored copy. */
type BackupAndRestore = (env: Record<string, string>, workDir: string) => Promise<Record<string, string>>;

const kinds: Record<
  string,
  { env: () => Promise<Record<string, string>>; backupAndRestore: BackupAndRestore }
> = {
  sqlite: {
    env: async () => ({ DATA_DIR: dirs.make() }),
    backupAndRestore: async (env, workDir) => {
      const out = path.join(workDir, 'backup.db');
      await run(process.execPath, ['--import', 'tsx', 'state/sql/cli/dbBackup.ts', '--out', out], {
        cwd: ROOT,
        env: { ...process.env, DATA_DIR: env.DATA_DIR },
      });
      return restoreSqlite(out);
    },
  },
  postgres: {
    env: async () => ({ DATABASE_URL: await postgresDatabaseUrl(`backup_${randomUUID()}`) }),
    backupAndRestore: async (env, workDir) => {
      const out = path.join(workDir, 'backup.dump');
      const bin = postgresBinDir();
      await run(path.join(bin, 'pg_dump'), ['--format=custom', '--file', out, env.DATABASE_URL!]);
      const restored = await postgresDatabaseUrl(`restored_${randomUUID()}`);
      await run(path.join(bin, 'pg_restore'), ['--no-owner', '--exit-on-error', '--dbname', restored, out]);
      return { DATABASE_URL: restored };
    },
  },
};

const dirs = {
  removers: [] as (() => void)[],
  make(): string {
    const d = tempDataDir();
    this.removers.push(d.remove);
    return d.dir;
  },
};

function restoreSqlite(backupFile: string): Record<string, string> {
  const dir = dirs.make();
  copyFileSync(backupFile, path.join(dir, SQLITE_FILE_NAME));
  return { DATA_DIR: dir };
}

describe.each(Object.keys(kinds))('backup and restore: %s', (kind) => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    for (const r of dirs.removers.splice(0)) r();
  });

  it('restores into a fresh server where an existing refresh token signs the device in', async () => {
    const k = kinds[kind]!;
    const env = await k.env();
    const live = await startTestService('memory', env);
    closers.push(() => live.close());
    const ana = await signUp(live.url, '+12015550170', 'Backed-up Ana');

    const restoredEnv = await k.backupAndRestore(env, dirs.make());
    // Made after the backup: must not be in the restored copy.
    const late = await signUp(live.url, '+12015550171', 'Late Lee');
    await live.close();

    const restored = await startTestService('memory', restoredEnv);
    closers.push(() => restored.close());
    const after = await refreshAndReadMe(restored.url, ana.refreshToken);
    expect(after.status).toBe(200);
    expect(after.me).toMatchObject({ userId: ana.user.userId, name: 'Backed-up Ana' });
    expect((await refreshAndReadMe(restored.url, late.refreshToken)).status).toBe(401);
    const api = apiClient(restored.url);
    const v = await api('POST', '/api/v1/auth/code', { json: { phone: '+12015550171' } });
    expect(v.status).toBe(202);
    const verify = await api('POST', '/api/v1/auth/verify', {
      json: { phone: '+12015550171', code: '123456' },
    });
    expect(verify.body.status).toBe('registration-required');
  });
});
