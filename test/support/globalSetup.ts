/**
 * Starts one real redis-server (Debian's) on a free port for the whole test run and stops it at
 * the end. Tests read its URL with `inject('redisUrl')`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

let redis: ChildProcess | undefined;
let dir: string | undefined;

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
  return async () => {
    redis?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
