/**
 * Starts one real redis-server and one real PostgreSQL (Debian's) on free ports for the whole test
 * run and stops them at the end. Tests read their URLs with `inject('redisUrl')` and
 * `inject('postgresUrl')` (the maintenance database: make a database of your own with
 * createDatabase() from ./postgresProcess.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { PostgresProcess } from './postgresProcess.js';
import { freePort } from './freePort.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    postgresUrl: string;
  }
}

export { freePort };

let redis: ChildProcess | undefined;
let dir: string | undefined;
let postgres: PostgresProcess | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const port = await freePort();
  dir = mkdtempSync(path.join(os.tmpdir(), 'calling-redis-'));
  redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 15_000);
    redis!.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (install it: scripts/setup.sh --test): ${err.message}`));
    });
    redis!.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  project.provide('redisUrl', `redis://127.0.0.1:${port}`);
  try {
    postgres = await PostgresProcess.start();
  } catch (err) {
    redis.kill('SIGTERM');
    throw err;
  }
  project.provide('postgresUrl', postgres.url);
  return async () => {
    await postgres?.destroy();
    redis?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
