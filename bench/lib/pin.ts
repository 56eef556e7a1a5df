/**
 * CPU pinning with util-linux `taskset`: every thread of a running process (-a), so the SFU
 * under test and the bots never share a core. Threads created later inherit the affinity.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export function pinProcess(pid: number, cores: readonly number[]): void {
  execFileSync('taskset', ['-a', '-p', '-c', cores.join(','), String(pid)], { stdio: 'ignore' });
}

/** The default split on a 2-core machine: the SFU on core 0, everything else on core 1. */
export function coreSplit(): { sfu: number; bots: number } {
  const cores = os.availableParallelism();
  if (cores < 2) throw new Error('the benchmarks need at least 2 cores: one for the SFU, one for the bots');
  return { sfu: 0, bots: 1 };
}
