/**
 * Online backup of the embedded database: SQLite's backup API (through `node:sqlite`) copies a
 * consistent snapshot page by page from a second connection, while the service keeps serving.
 *
 *   npm run db:backup -- --out /backups/calling-$(date +%F).db [--data-dir DIR]   (cli/dbBackup.ts)
 *
 * Restore: stop the service, put the copy at DATA_DIR/calling-service.db (removing any
 * calling-service.db-wal and -shm files next to it), start the service.
 */
import { existsSync } from 'node:fs';
import { backup, DatabaseSync } from 'node:sqlite';

export async function backupSqlite(sourceFile: string, targetFile: string): Promise<number> {
  if (!existsSync(sourceFile)) throw new Error(`no database at ${sourceFile}`);
  if (existsSync(targetFile)) throw new Error(`${targetFile} exists already; choose a new file`);
  const source = new DatabaseSync(sourceFile, { readOnly: true });
  try {
    return await backup(source, targetFile);
  } finally {
    source.close();
  }
}
