/**
 * A coturn (Debian `turnserver`) of a test's own: TURN REST credentials (`use-auth-secret` with a
 * shared secret, as production runs it), UDP+TCP listeners on one free port of `address`, relays
 * from the same address in a small port range, no TLS (no certificate needed to test the relay
 * path), no CLI, no config file. Waits until it listens; `stop()` is idempotent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { untilValue } from './poll.js';

export interface CoturnProcess {
  address: string;
  port: number;
  secret: string;
  /** `TURN_URLS` for the service: the UDP and the TCP listener. */
  urls: string[];
  /** What coturn printed (for a failing test's message). */
  output(): string;
  stop(): Promise<void>;
}

/** A port free for both TCP and UDP on `address`. */
async function freeDualPort(address: string): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, address, () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      import('node:dgram').then(
        ({ createSocket }) => {
          const s = createSocket('udp4');
          s.once('error', () => resolve(false));
          s.bind(port, address, () => s.close(() => resolve(true)));
        },
        () => resolve(false),
      );
    });
    if (udpFree) return port;
  }
  throw new Error(`no port free for TCP and UDP on ${address}`);
}

export async function startCoturn(address: string): Promise<CoturnProcess> {
  const port = await freeDualPort(address);
  const secret = randomBytes(24).toString('base64url');
  const minPort = 50_000 + (port % 1000) * 10;
  const child: ChildProcess = spawn(
    'turnserver',
    [
      '-n',
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=calling-test',
      `--listening-port=${port}`,
      `--listening-ip=${address}`,
      `--relay-ip=${address}`,
      `--min-port=${minPort}`,
      `--max-port=${minPort + 9}`,
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--no-multicast-peers',
      '--simple-log',
      '--log-file=stdout',
      '--pidfile=',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  child.on('error', (err) => (out += `\nspawn error: ${err.message}`));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await untilValue(
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect({ host: address, port }, () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        }),
      (ok) => ok || child.exitCode !== null,
      { what: 'coturn listening', timeoutMs: 10_000, intervalMs: 100 },
    );
    if (child.exitCode !== null) throw new Error(`coturn exited (${child.exitCode}):\n${out}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address,
    port,
    secret,
    urls: [`turn:${address}:${port}?transport=udp`, `turn:${address}:${port}?transport=tcp`],
    output: () => out,
    stop,
  };
}
