/**
 * CPU time of a process from /proc/<pid>/stat (user + system, all threads), the way `top` sees
 * it. Works for processes we did not start ourselves (the mediasoup worker, Janus), and counts
 * the kernel work a process is charged for, e.g. loopback delivery of the packets it sends.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // the Linux default on every architecture we run on
    }
  }
  return ticksPerSecond;
}

/** Seconds of CPU used so far by `pid`. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

/** Measures a process's share of one core between calls to `sample()`. */
export class CpuMeter {
  readonly #pid: number;
  #lastCpu: number;
  #lastAt: number;

  constructor(pid: number) {
    this.#pid = pid;
    this.#lastCpu = cpuSeconds(pid);
    this.#lastAt = performance.now();
  }

  /** Fraction of one core (1 = a full core) since the previous sample. */
  sample(): number {
    const cpu = cpuSeconds(this.#pid);
    const at = performance.now();
    const share = (cpu - this.#lastCpu) / Math.max(1e-3, (at - this.#lastAt) / 1000);
    this.#lastCpu = cpu;
    this.#lastAt = at;
    return share;
  }
}

/** This process (the bots), same unit as CpuMeter. */
export class SelfCpuMeter {
  #last = process.cpuUsage();
  #lastAt = performance.now();

  sample(): number {
    const now = process.cpuUsage();
    const at = performance.now();
    const us = now.user + now.system - this.#last.user - this.#last.system;
    const share = us / 1000 / Math.max(1, at - this.#lastAt);
    this.#last = now;
    this.#lastAt = at;
    return share;
  }
}
