/**
 * Runs the calling service as a child process, as `npm run dev` does (tsx, from source) or from a
 * compiled entry, so its CPU and heap are its own and can be read from /proc. Optionally pinned to cores with
 * taskset and/or inside a network namespace. `stop()` ends it with SIGTERM (then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const KEPT_OUTPUT_CHARS = 20_000;

export interface ServiceProcessOptions {
  /** Address for HTTP and media (127.0.0.1, or an address inside `netns`). */
  host: string;
  /** 0 picks a free port (only on the host's own network). */
  port?: number;
  /** Cores for the Node.js process (and, until re-pinned, its worker). */
  cores?: readonly number[];
  netns?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** A compiled entry (bench/lib/buildServer.ts) to run with plain node instead of the source with tsx. */
  entry?: string;
  /** Every line the service prints, e.g. to spot a mediasoup debug line. */
  onLine?: (line: string) => void;
}

export interface HealthWorker {
  pid: number;
  ok: boolean;
}

export class ServiceProcess {
  readonly url: string;
  /** Operator token of this service: /healthz details (worker pids) and /metrics need it. */
  readonly metricsToken: string;
  readonly child: ChildProcess;
  readonly #exited: Promise<number | null>;
  /** The run's own data directory (embedded database), removed once the service has stopped. */
  readonly #dataDir: string | null;
  #output = '';

  private constructor(url: string, child: ChildProcess, metricsToken: string, dataDir: string | null) {
    this.url = url;
    this.metricsToken = metricsToken;
    this.child = child;
    this.#dataDir = dataDir;
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** The Node.js process of the service (not the taskset/ip wrappers, which exec it). */
  get pid(): number {
    return this.child.pid!;
  }

  get output(): string {
    return this.#output;
  }

  static async start(opts: ServiceProcessOptions): Promise<ServiceProcess> {
    const port = opts.port || (await freePort(opts.host));
    const metricsToken = randomBytes(24).toString('base64url');
    // Each run starts from an empty embedded database of its own: a run must neither write into the
    // user's own service data nor get slower as earlier runs' calls pile up.
    const dataDir =
      opts.env?.['DATA_DIR'] || opts.env?.['DATABASE_URL']
        ? null
        : mkdtempSync(path.join(os.tmpdir(), 'calling-bench-data-'));
    const env = {
      ...process.env,
      NODE_ENV: 'development',
      HOST: opts.host,
      PORT: String(port),
      RTC_LISTEN_IP: opts.host,
      RTC_ANNOUNCED_ADDRESS: opts.host,
      RTC_PORT_BASE: '0',
      LOG_LEVEL: 'warn',
      JWT_SECRET: randomBytes(32).toString('base64url'),
      METRICS_TOKEN: metricsToken,
      // All load comes from this one host and a handful of accounts: the per-address, per-account and
      // per-socket limits that protect a real node would measure themselves instead of the service.
      WS_MAX_SOCKETS_PER_IP: '1000000',
      WS_MAX_SOCKETS_PER_USER: '1000000',
      WS_MAX_SOCKETS_PER_DEVICE: '1000000',
      WS_REQUESTS_PER_SECOND: '100000',
      WS_REQUEST_BURST: '100000',
      ROOMS_CREATED_PER_USER_PER_MINUTE: '1000000',
      ...(dataDir ? { DATA_DIR: dataDir } : {}),
      ...opts.env,
    };
    // BENCH_SERVICE_CPU_PROFILE=<dir>: the service writes a V8 CPU profile there when it stops (open it
    // in Chrome DevTools or speedscope), to see where a benchmark's service time goes.
    const profileDir = process.env['BENCH_SERVICE_CPU_PROFILE'];
    const nodeArgs = [
      ...(opts.nodeArgs ?? []),
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ];
    // taskset and `ip netns exec` both exec their command, so the child's pid is node's.
    const argv = opts.entry
      ? [process.execPath, ...nodeArgs, opts.entry]
      : [process.execPath, '--import', 'tsx', ...nodeArgs, 'server/main.ts'];
    if (opts.cores) argv.unshift('taskset', '-c', opts.cores.join(','));
    if (opts.netns) argv.unshift('ip', 'netns', 'exec', opts.netns);
    const child = spawn(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const service = new ServiceProcess(`http://${opts.host}:${port}`, child, metricsToken, dataDir);
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      service.#output = (service.#output + text).slice(-KEPT_OUTPUT_CHARS);
      if (opts.onLine) for (const line of text.split('\n')) if (line) opts.onLine(line);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    try {
      await service.#waitHealthy();
    } catch (err) {
      await service.stop();
      throw err;
    }
    return service;
  }

  async health(): Promise<{ status: string; workers: HealthWorker[] }> {
    const res = await fetch(`${this.url}/healthz`, {
      headers: { authorization: `Bearer ${this.metricsToken}` },
    });
    return (await res.json()) as { status: string; workers: HealthWorker[] };
  }

  async workerPids(): Promise<number[]> {
    return (await this.health()).workers.map((w) => w.pid);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.#exited;
      clearTimeout(timer);
    }
    if (this.#dataDir) rmSync(this.#dataDir, { recursive: true, force: true });
  }

  async #waitHealthy(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let exitCode: number | null | undefined;
    void this.#exited.then((code) => (exitCode = code));
    while (Date.now() < deadline) {
      if (exitCode !== undefined) throw new Error(`the service exited (${exitCode}):\n${this.#output}`);
      const ok = await this.health().then(
        (h) => h.status === 'ok',
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the service did not become healthy in ${START_TIMEOUT_MS / 1000} s:\n${this.#output}`);
  }
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
