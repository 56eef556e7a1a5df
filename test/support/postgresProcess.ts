/**
 * A real PostgreSQL server of the tests' own (Debian's postgresql 15 binaries): a fresh cluster in
 * a temp dir on a free port, stopped and removed at the end. PostgreSQL refuses to run as root, so
 * when the tests run as root the server runs as the `postgres` system user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './freePort.js';

/** Debian keeps the server binaries out of PATH, per major version. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'no PostgreSQL server binaries in /usr/lib/postgresql (install: scripts/setup.sh --test)',
    );
  }
  return path.join(root, versions[0]!, 'bin');
}

/** How to run a server binary: as ourselves, or as `postgres` when we are root. */
function asServerUser(bin: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [bin, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--clear-groups', '--', bin, ...args]];
}

export class PostgresProcess {
  readonly dir: string;
  readonly port: number;
  readonly #fsync: boolean;
  #child: ChildProcess | undefined;

  private constructor(dir: string, port: number, fsync: boolean) {
    this.dir = dir;
    this.port = port;
    this.#fsync = fsync;
  }

  /** `fsync: true` for benchmarks that compare durable writes; tests skip it for speed. */
  static async start(opts: { fsync?: boolean } = {}): Promise<PostgresProcess> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'calling-pg-'));
    const p = new PostgresProcess(dir, await freePort(), opts.fsync ?? false);
    try {
      if (process.getuid?.() === 0) chownSync(dir, ...postgresIds());
      const [cmd, args] = asServerUser(path.join(postgresBinDir(), 'initdb'), [
        '-D',
        path.join(dir, 'data'),
        '-U',
        'postgres',
        '-A',
        'trust',
        '-E',
        'UTF8',
        '--no-sync',
      ]);
      execFileSync(cmd, args, { stdio: 'pipe', timeout: 60_000 });
      await p.#spawn();
      return p;
    } catch (err) {
      await p.destroy();
      throw err;
    }
  }

  /** The maintenance database's URL; tests make databases of their own with createDatabase(). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async #spawn(): Promise<void> {
    const [cmd, args] = asServerUser(path.join(postgresBinDir(), 'postgres'), [
      '-D',
      path.join(this.dir, 'data'),
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
      // Test data need not survive a power cut of this machine; the server process may still die.
      '-c',
      `fsync=${this.#fsync ? 'on' : 'off'}`,
      '-c',
      'max_connections=300',
    ]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`postgres did not start:\n${out}`)), 30_000);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run postgres (install it: scripts/setup.sh --test): ${err.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`postgres exited (${code}):\n${out}`));
      });
      const onData = (c: Buffer): void => {
        out += c.toString();
        if (out.includes('database system is ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
    });
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      // SIGINT: PostgreSQL's "fast" shutdown (disconnect clients, then stop).
      child.kill('SIGINT');
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function postgresIds(): [number, number] {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return [uid, gid];
}

/** Creates `name` (if missing) on the server of `adminUrl` and returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    // 42P04: exists already; 23505: a concurrent CREATE of the same name won.
    const code = (err as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw err;
  } finally {
    await client.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}
