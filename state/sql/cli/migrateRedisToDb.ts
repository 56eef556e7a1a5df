/**
 * `npm run migrate:redis-to-db -- --redis URL [--database URL | --data-dir DIR] [--prefix cs:] [--dry-run]`
 *
 * One-shot copy of accounts, devices, photos and call history from a Redis deployment into the
 * database (see ../redisToDatabase.ts). Without --database it writes the embedded SQLite database
 * under --data-dir (or DATA_DIR, or the default data directory). --dry-run only counts.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDataDir, SQLITE_FILE_NAME } from '../../../server/config.js';
import { describeTarget, openDatabase, type DatabaseTarget } from '../openDatabase.js';
import { copyRedisToDatabase, type MigrationCounts } from '../redisToDatabase.js';
import type { SqlDatabase } from '../sqlDatabase.js';

const USAGE =
  'usage: npm run migrate:redis-to-db -- --redis URL [--database postgres://… | --data-dir DIR] [--prefix cs:] [--dry-run]';

const line = (c: MigrationCounts): string =>
  `users ${c.users}, photos ${c.photos}, devices ${c.devices}, calls ${c.calls}, ` +
  `history entries ${c.historyEntries}, missed counters ${c.missedCounters}, blocks ${c.blocks}`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      redis: { type: 'string' },
      database: { type: 'string' },
      'data-dir': { type: 'string' },
      prefix: { type: 'string', default: 'cs:' },
      'dry-run': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.redis) throw new Error(USAGE);
  if (values.database && values['data-dir'])
    throw new Error(`--database and --data-dir exclude each other\n${USAGE}`);
  if (values.database && !/^postgres(ql)?:\/\//.test(values.database))
    throw new Error('--database must be a postgres:// URL');
  const target: Exclude<DatabaseTarget, { kind: 'memory' }> = values.database
    ? { kind: 'postgres', url: values.database }
    : {
        kind: 'sqlite',
        file: path.resolve(values['data-dir'] ?? process.env.DATA_DIR ?? defaultDataDir(), SQLITE_FILE_NAME),
      };
  const dryRun = values['dry-run'];
  let db: SqlDatabase | undefined;
  if (!dryRun) {
    db = await openDatabase(target);
    console.log(
      `copying from ${new URL(values.redis).host} (prefix ${values.prefix}) into ${describeTarget(target)}`,
    );
  }
  try {
    const counts = await copyRedisToDatabase({
      redisUrl: values.redis,
      keyPrefix: values.prefix,
      db,
      onProgress: (c) => console.error(`… ${line(c)}`),
    });
    console.log(`${dryRun ? 'dry run, would copy' : 'copied'}: ${line(counts)}`);
    if (!dryRun) console.log(`already in the database (left unchanged): ${counts.alreadyPresent} rows`);
  } finally {
    await db?.close();
  }
}

main().catch((err: Error) => {
  console.error(`migrate:redis-to-db: ${err.message}`);
  process.exit(1);
});
