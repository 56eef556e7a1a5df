/**
 * A client in a network namespace of its own, joined to the host by one or two veth pairs, with
 * impairment profiles: random loss (nftables `numgen random`), thin links (tbf), UDP blocked, only
 * TCP to chosen ports (a TURN relay), everything dropped (an outage), and a link going down with
 * the other taking over (a network change). This kernel has no netem, so there is no delay or
 * jitter emulation: every profile here is loss, rate or reachability.
 *
 * The server listens on the host side of the first link (`serverAddress`); the namespace reaches
 * it through the first link and, when that goes down, through the second (a /32 route of lower
 * preference; Linux accepts a packet for any local address on any interface). All rules live
 * inside the namespace, except the downlink rate limit on the host's end of our own veth, so
 * nothing else on the machine is touched. Chromium runs inside through a wrapper script that
 * `ip netns exec`s it (pass `chromiumWrapper` as playwright's executablePath).
 *
 * Names carry a prefix and the creating process id: `sweepStaleNetns()` removes those whose
 * process is gone (an interrupted run), and `close()` removes its own, idempotently.
 *
 * Shared by the impairment suite (test/support/netnsClient.ts re-exports it) and the bot's
 * `--netns-profile` (bot/netns/impairedRun.ts), which runs the bot process itself inside.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const NETNS_PREFIX = 'csnet-';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface VethLink {
  hostIf: string;
  hostAddress: string;
  nsIf: string;
  nsAddress: string;
}

/** What an impairment profile does, in both directions unless said otherwise. */
export type Impairment =
  | { kind: 'clear' }
  /** Random drop of `percent` % of packets each way. */
  | { kind: 'loss'; percent: number }
  /** Rate limit of `kbit` kbit/s each way (tbf; its queue adds up to `latencyMs` of delay). */
  | { kind: 'thin'; kbit: number; latencyMs?: number }
  /** Every UDP packet dropped (ICE must use TCP). */
  | { kind: 'blockUdp' }
  /** Only TCP to these ports of `address` gets through (signaling and a TURN relay, say). */
  | { kind: 'onlyTcp'; address: string; ports: number[] }
  /** Nothing gets through (an outage). */
  | { kind: 'blackhole' };

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, {
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    timeout: 10_000,
  }).toString();
}

function tryRun(cmd: string, args: string[]): void {
  try {
    run(cmd, args);
  } catch {
    // Already gone.
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces of ours whose creating process no longer runs (their veths go with them). */
export function sweepStaleNetns(): string[] {
  const removed: string[] = [];
  for (const line of run('ip', ['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${NETNS_PREFIX}(\\d+)-[0-9a-f]+$`).exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    tryRun('ip', ['netns', 'del', name]);
    removed.push(name);
  }
  return removed;
}

/** A /24 in 10.0.0.0/8 that no interface on the host uses yet. */
function freeSubnet(): string {
  const used = run('ip', ['-o', '-4', 'addr', 'show']);
  for (let i = 0; i < 50; i++) {
    const [a, b] = randomBytes(2);
    const subnet = `10.${100 + (a! % 150)}.${b}`;
    if (!used.includes(` ${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.x.y.0/24 for a test namespace');
}

export class NetnsClient {
  readonly name: string;
  readonly links: VethLink[];
  /** Where the server listens and what it announces: the host's end of the first link. */
  readonly serverAddress: string;
  /** An executable that runs Chromium inside the namespace (playwright's executablePath). */
  readonly chromiumWrapper: string;
  readonly #dir: string;
  #closed = false;

  private constructor(name: string, links: VethLink[], dir: string, wrapper: string) {
    this.name = name;
    this.links = links;
    this.serverAddress = links[0]!.hostAddress;
    this.#dir = dir;
    this.chromiumWrapper = wrapper;
  }

  /**
   * Creates the namespace with `linkCount` (1 or 2) links; removes what it made if a step fails.
   * `defaultRoute`: everything leaves through the first link, so any address of the host itself is
   * reachable from inside (the host does not forward: nothing beyond it is).
   */
  static create(linkCount: 1 | 2 = 1, opts: { defaultRoute?: boolean } = {}): NetnsClient {
    sweepStaleNetns();
    const tag = randomBytes(3).toString('hex');
    const name = `${NETNS_PREFIX}${process.pid}-${tag}`;
    const subnet = freeSubnet();
    const links: VethLink[] = [];
    for (let i = 0; i < linkCount; i++) {
      const letter = 'ab'[i]!;
      links.push({
        hostIf: `cn${tag}${letter}0`,
        hostAddress: `${subnet}.${4 * i + 1}`,
        nsIf: `cn${tag}${letter}1`,
        nsAddress: `${subnet}.${4 * i + 2}`,
      });
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'csnet-'));
    const wrapper = path.join(dir, 'chromium-in-netns');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${name} ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const ns = new NetnsClient(name, links, dir, wrapper);
    try {
      run('ip', ['netns', 'add', name]);
      ns.#nsIp('link', 'set', 'lo', 'up');
      for (const l of links) {
        run('ip', ['link', 'add', l.hostIf, 'type', 'veth', 'peer', 'name', l.nsIf]);
        run('ip', ['link', 'set', l.nsIf, 'netns', name]);
        run('ip', ['addr', 'add', `${l.hostAddress}/30`, 'dev', l.hostIf]);
        run('ip', ['link', 'set', l.hostIf, 'up']);
        ns.#nsIp('addr', 'add', `${l.nsAddress}/30`, 'dev', l.nsIf);
        ns.#nsIp('link', 'set', l.nsIf, 'up');
      }
      // The server's address through the first link, and through the second when the first is gone.
      const [first, second] = links;
      ns.#nsIp('route', 'add', `${ns.serverAddress}/32`, 'dev', first!.nsIf, 'metric', '10');
      if (second) {
        ns.#nsIp('route', 'add', `${ns.serverAddress}/32`, 'via', second.hostAddress, 'metric', '100');
      }
      if (opts.defaultRoute) ns.#nsIp('route', 'add', 'default', 'via', first!.hostAddress);
      return ns;
    } catch (err) {
      ns.close();
      throw err;
    }
  }

  /** The command line that runs `command` inside the namespace (for spawn). */
  exec(command: string, args: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name, command, ...args]];
  }

  #nsIp(...args: string[]): string {
    return run('ip', ['-n', this.name, ...args]);
  }

  /** Replaces whatever profile was on with `impairment`. */
  apply(impairment: Impairment): void {
    this.#clearRates();
    let out: string[] = [];
    let inn: string[] = [];
    switch (impairment.kind) {
      case 'clear':
        break;
      case 'loss':
        out = [`numgen random mod 100 < ${impairment.percent} drop`];
        inn = out;
        break;
      case 'blockUdp':
        out = ['meta l4proto udp drop'];
        inn = out;
        break;
      case 'onlyTcp': {
        const ports = impairment.ports.join(', ');
        out = [`ip daddr ${impairment.address} tcp dport { ${ports} } accept`, 'drop'];
        inn = [`ip saddr ${impairment.address} tcp sport { ${ports} } accept`, 'drop'];
        break;
      }
      case 'blackhole':
        out = ['drop'];
        inn = out;
        break;
      case 'thin': {
        // Uplink: the namespace's end; downlink: the host's end of the same pair.
        const latency = `${impairment.latencyMs ?? 300}ms`;
        const tbf = ['root', 'tbf', 'rate', `${impairment.kbit}kbit`, 'burst', '16kb', 'latency', latency];
        for (const l of this.links) {
          run('ip', ['netns', 'exec', this.name, 'tc', 'qdisc', 'replace', 'dev', l.nsIf, ...tbf]);
          run('tc', ['qdisc', 'replace', 'dev', l.hostIf, ...tbf]);
        }
        break;
      }
    }
    const ruleset = [
      'table inet impair',
      'delete table inet impair',
      'table inet impair {',
      '  chain output {',
      '    type filter hook output priority 0; policy accept;',
      '    oifname "lo" accept',
      ...out.map((r) => `    ${r}`),
      '  }',
      '  chain input {',
      '    type filter hook input priority 0; policy accept;',
      '    iifname "lo" accept',
      ...inn.map((r) => `    ${r}`),
      '  }',
      '}',
    ].join('\n');
    run('ip', ['netns', 'exec', this.name, 'nft', '-f', '-'], `${ruleset}\n`);
  }

  #clearRates(): void {
    for (const l of this.links) {
      tryRun('ip', ['netns', 'exec', this.name, 'tc', 'qdisc', 'del', 'dev', l.nsIf, 'root']);
      tryRun('tc', ['qdisc', 'del', 'dev', l.hostIf, 'root']);
    }
  }

  /**
   * A network change: link `index` loses its address and goes down, so everything bound to it is
   * gone and traffic to the server takes the other link (the other's address takes over).
   */
  linkDown(index: number): void {
    const l = this.links[index]!;
    this.#nsIp('addr', 'flush', 'dev', l.nsIf);
    this.#nsIp('link', 'set', l.nsIf, 'down');
  }

  /** Brings a link back (address and route) after `linkDown`. */
  linkUp(index: number): void {
    const l = this.links[index]!;
    this.#nsIp('link', 'set', l.nsIf, 'up');
    tryRun('ip', ['-n', this.name, 'addr', 'add', `${l.nsAddress}/30`, 'dev', l.nsIf]);
    if (index === 0)
      tryRun('ip', [
        '-n',
        this.name,
        'route',
        'add',
        `${this.serverAddress}/32`,
        'dev',
        l.nsIf,
        'metric',
        '10',
      ]);
  }

  /** Removes the namespace (its veth ends take the host's ends with them) and the wrapper. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    tryRun('ip', ['netns', 'del', this.name]);
    for (const l of this.links) tryRun('ip', ['link', 'del', l.hostIf]);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
