/**
 * The calling service as a real child process (`node --import tsx server/main.ts`), for tests with
 * several server processes sharing one Redis. Started on a free port; ready once /healthz says 200.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './globalSetup.js';
import { tempDataDir } from './testDatabases.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The same secret as test/support/testService.ts: tokens of one node are accepted by the other. */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** What the process printed (last 64 KB), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startServerProcess(
  env: Record<string, string>,
  opts: { readyTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  // Without a database of the test's own, an embedded one in a temp dir (never the user's data dir).
  const data = env.DATABASE_URL === undefined && env.DATA_DIR === undefined ? tempDataDir() : undefined;
  const passThrough = [
    'PATH',
    'HOME',
    'XDG_CACHE_HOME',
    'MEDIASOUP_WORKER_BIN',
    'MEDIASOUP_WORKER_CACHE',
    'MEDIASOUP_LOG_LEVEL',
    'MEDIASOUP_LOG_TAGS',
  ];
  const inherited = Object.fromEntries(
    passThrough.flatMap((k) => (process.env[k] !== undefined ? [[k, process.env[k]!]] : [])),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      ...inherited,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: TEST_JWT_SECRET,
      RTC_LISTEN_IP: '127.0.0.1',
      RTC_ANNOUNCED_ADDRESS: '127.0.0.1',
      RTC_PORT_BASE: '0',
      MEDIASOUP_NUM_WORKERS: '1',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      ...(data ? { DATA_DIR: data.dir } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (chunk: Buffer): void => {
    out = (out + chunk.toString()).slice(-65_536);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => data?.remove());

  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 45_000);
  let early: number | null | undefined;
  void exited.then((code) => (early = code));
  for (;;) {
    if (early !== undefined) throw new Error(`server process exited (${early}) before it was ready:\n${out}`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server process not healthy within the timeout:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, port, child, output: () => out, stop };
}
