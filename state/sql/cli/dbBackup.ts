/**
 * `npm run db:backup -- --out FILE [--data-dir DIR]`: an online backup of the embedded SQLite
 * database (see ../sqliteBackup.ts). PostgreSQL deployments use pg_dump (README, "Backups").
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDataDir, SQLITE_FILE_NAME } from '../../../server/config.js';
import { backupSqlite } from '../sqliteBackup.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  if (!values.out) throw new Error('usage: npm run db:backup -- --out FILE [--data-dir DIR]');
  const dataDir = values['data-dir'] ?? process.env.DATA_DIR ?? defaultDataDir();
  const source = path.resolve(dataDir, SQLITE_FILE_NAME);
  const pages = await backupSqlite(source, path.resolve(values.out));
  console.log(`backed up ${source} to ${path.resolve(values.out)} (${pages} pages)`);
}

main().catch((err: Error) => {
  console.error(`db:backup: ${err.message}`);
  process.exit(1);
});
