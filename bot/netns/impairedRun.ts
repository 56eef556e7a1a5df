/**
 * `npm run bot -- --netns-profile loss5|loss15|thin300|blackout …`: the load test over a bad network.
 * The bot process starts itself again inside a network namespace of its own (netnsClient.ts,
 * the helper the impairment suite uses), joined to the host by a veth pair whose namespace end
 * carries the profile, so every bot socket (signaling and media) of that run is impaired and the
 * service and the other processes are not. The parent applies the profile, waits for the child
 * (forwarding Ctrl-C), and removes the namespace whatever happens; a namespace left by a killed
 * run is swept by the next one (its name carries the dead process id).
 *
 * Needs root (namespaces, nftables, tc) and a `--url` host that the namespace can reach: an address
 * of this machine other than loopback (inside the namespace 127.0.0.1 is the namespace's own), on
 * which the service listens and which it announces for media (RTC_ANNOUNCED_ADDRESS).
 */
import { spawn } from 'node:child_process';
import { NetnsClient, type Impairment } from './netnsClient.js';
import { BotError } from '../errors.js';

export const NETNS_PROFILES = ['loss5', 'loss15', 'thin300', 'blackout'] as const;
export type NetnsProfile = (typeof NETNS_PROFILES)[number];

/** Set in the child's environment: it runs inside already, so it must not start another one. */
export const IN_NETNS_ENV = 'CALLING_BOT_NETNS';

/**
 * `blackout`: everything dropped for this long… Long enough that both sides notice for sure (the
 * server pings every 5 s and drops a socket that missed a pong; the SDK pings a socket quiet for
 * 5 s) and short enough to stay inside the 15 s resume grace: every bot should resume.
 */
const BLACKOUT_MS = 10_000;
/** …once in every this long. */
const BLACKOUT_EVERY_MS = 40_000;

/** The steady impairment of each profile (`blackout` alternates `clear` with `blackhole`). */
function impairment(profile: NetnsProfile): Impairment {
  switch (profile) {
    case 'loss5':
      return { kind: 'loss', percent: 5 };
    case 'loss15':
      return { kind: 'loss', percent: 15 };
    case 'thin300':
      return { kind: 'thin', kbit: 300 };
    case 'blackout':
      return { kind: 'clear' };
  }
}

export function parseNetnsProfile(raw: string | undefined): NetnsProfile | undefined {
  if (raw === undefined) return undefined;
  if (!(NETNS_PROFILES as readonly string[]).includes(raw))
    throw new BotError(
      'BAD_ARGUMENTS',
      `--netns-profile must be one of ${NETNS_PROFILES.join(', ')}, got "${raw}"`,
    );
  return raw as NetnsProfile;
}

/** Refuses what cannot work before anything is created. */
export function checkImpairedRun(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.startsWith('127.') || host === '::1')
    throw new BotError(
      'BAD_ARGUMENTS',
      "--netns-profile needs a --url on an address of this machine other than loopback (inside the namespace 127.0.0.1 is its own): e.g. the host's LAN address, on which the service listens and which it announces for media",
    );
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new BotError('BAD_ARGUMENTS', '--netns-profile needs root (network namespaces, nftables, tc)');
}

/** `argv` without `--netns-profile X` / `--netns-profile=X`. */
export function withoutProfileFlag(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--netns-profile') i++;
    else if (!argv[i]!.startsWith('--netns-profile=')) out.push(argv[i]!);
  }
  return out;
}

/**
 * Runs this bot again inside a fresh namespace under `profile`; resolves with its exit code. Prints
 * one line per profile change so the run's log says when the network was bad.
 */
export async function runInNamespace(
  profile: NetnsProfile,
  argv: string[],
  log: (line: string) => void,
): Promise<number> {
  const ns = NetnsClient.create(1, { defaultRoute: true });
  let timers: ReturnType<typeof setTimeout>[] = [];
  const onSignal = (signal: NodeJS.Signals): void => void child?.kill(signal);
  let child: ReturnType<typeof spawn> | undefined;
  try {
    ns.apply(impairment(profile));
    log(`network namespace ${ns.name}: profile ${profile}`);
    if (profile === 'blackout') {
      const cycle = (): void => {
        timers = [
          setTimeout(() => {
            ns.apply({ kind: 'blackhole' });
            log(`blackout: all traffic dropped for ${BLACKOUT_MS / 1000} s`);
            timers.push(
              setTimeout(() => {
                ns.apply({ kind: 'clear' });
                log('blackout over');
                cycle();
              }, BLACKOUT_MS),
            );
          }, BLACKOUT_EVERY_MS - BLACKOUT_MS),
        ];
      };
      cycle();
    }
    // The same entry point with the same loader (tsx registers itself through execArgv).
    const [cmd, args] = ns.exec(process.execPath, [
      ...process.execArgv,
      process.argv[1]!,
      ...withoutProfileFlag(argv),
    ]);
    child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, [IN_NETNS_ENV]: ns.name } });
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const running = child;
    return await new Promise<number>((resolve, reject) => {
      running.once('error', reject);
      running.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  } finally {
    for (const t of timers) clearTimeout(t);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    ns.close();
  }
}
