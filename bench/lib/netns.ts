/**
 * A network namespace joined to the host by a veth pair, made and removed by the benchmark. Janus
 * gathers no ICE candidates on loopback, so the SFUs under comparison listen on the namespace's
 * side and the bots bind to the host's side. The addresses exist only on this pair: nothing
 * else on the network is ever addressed.
 */
import { execFileSync } from 'node:child_process';

export interface NetnsPair {
  name: string;
  /** Interface and address on the host side (the bots bind here). */
  hostIf: string;
  hostAddress: string;
  /** Interface and address inside the namespace (the SFU listens here). */
  nsIf: string;
  nsAddress: string;
}

export const BENCH_NETNS: NetnsPair = {
  name: 'calling-bench',
  hostIf: 'cbench0',
  hostAddress: '10.203.0.1',
  nsIf: 'cbench1',
  nsAddress: '10.203.0.2',
};

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates the pair, replacing a leftover one from an interrupted run. */
export function createNetns(pair: NetnsPair = BENCH_NETNS): void {
  deleteNetns(pair);
  ip('netns', 'add', pair.name);
  ip('link', 'add', pair.hostIf, 'type', 'veth', 'peer', 'name', pair.nsIf);
  ip('link', 'set', pair.nsIf, 'netns', pair.name);
  ip('addr', 'add', `${pair.hostAddress}/30`, 'dev', pair.hostIf);
  ip('link', 'set', pair.hostIf, 'up');
  ip('netns', 'exec', pair.name, 'ip', 'addr', 'add', `${pair.nsAddress}/30`, 'dev', pair.nsIf);
  ip('netns', 'exec', pair.name, 'ip', 'link', 'set', pair.nsIf, 'up');
  ip('netns', 'exec', pair.name, 'ip', 'link', 'set', 'lo', 'up');
}

/** Removing the namespace removes its end of the veth, and with it the host's end. */
export function deleteNetns(pair: NetnsPair = BENCH_NETNS): void {
  try {
    ip('netns', 'del', pair.name);
  } catch {
    // Not there: nothing to remove.
  }
  try {
    ip('link', 'del', pair.hostIf);
  } catch {
    // Went away with the namespace.
  }
}
