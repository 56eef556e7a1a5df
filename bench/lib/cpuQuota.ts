/**
 * A CPU quota for the SFU under test, so a benchmark can drive it to saturation on a machine where
 * the bots would otherwise saturate first: a child cgroup with `quota` of one core, into which the
 * benchmark moves the SFU's process (all its threads, and any it starts later). Works with cgroup v1's
 * `cpu` controller (cpu.cfs_quota_us / cpu.cfs_period_us, as on this machine) and with cgroup v2
 * (cpu.max), detected at creation. The group is created by `create()` and removed by `remove()` —
 * which the benchmark calls in `finally`, and which also runs at process exit as a last resort — after
 * moving any process still in it back to the root group.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const V1_ROOT = '/sys/fs/cgroup/cpu';
const V2_ROOT = '/sys/fs/cgroup';
/**
 * The default accounting period: the quota is granted per period. The kernel's default is 100 ms, but
 * then a group at 30% runs 30 ms and stalls 70 ms, and the SFU sends each stall's packets in one burst
 * that overflows the receivers' socket buffers before the SFU is out of CPU. 10 ms keeps stalls short.
 */
export const DEFAULT_PERIOD_MS = 10;

export interface ThrottleSample {
  /** Periods in which the group ran, and in how many it ran out of quota. */
  periods: number;
  throttled: number;
}

export class CpuQuota {
  readonly quota: number;
  readonly periodMs: number;
  readonly version: 'v1' | 'v2';
  readonly #dir: string;
  readonly #root: string;
  #removed = false;
  readonly #onExit = (): void => this.remove();

  private constructor(quota: number, periodMs: number, version: 'v1' | 'v2', root: string, dir: string) {
    this.quota = quota;
    this.periodMs = periodMs;
    this.version = version;
    this.#root = root;
    this.#dir = dir;
  }

  /**
   * A new group capped at `quota` of one core (e.g. 0.3), granted per `periodMs`. Throws where no cpu
   * controller is writable (not root, no controller).
   */
  static create(quota: number, periodMs: number = DEFAULT_PERIOD_MS): CpuQuota {
    if (!(quota > 0 && quota <= 16)) throw new Error(`quota ${quota} is not a share of cores in (0, 16]`);
    if (!(periodMs >= 1 && periodMs <= 1000)) throw new Error(`period ${periodMs} ms is not in [1, 1000]`);
    const name = `calling-bench-${process.pid}`;
    const periodUs = Math.round(periodMs * 1000);
    const quotaUs = Math.round(quota * periodUs);
    let q: CpuQuota;
    if (existsSync(path.join(V1_ROOT, 'cpu.cfs_quota_us'))) {
      q = new CpuQuota(quota, periodMs, 'v1', V1_ROOT, path.join(V1_ROOT, name));
      mkdirSync(q.#dir);
      writeFileSync(path.join(q.#dir, 'cpu.cfs_period_us'), String(periodUs));
      writeFileSync(path.join(q.#dir, 'cpu.cfs_quota_us'), String(quotaUs));
    } else if (readIfExists(path.join(V2_ROOT, 'cgroup.controllers'))?.split(/\s+/).includes('cpu')) {
      q = new CpuQuota(quota, periodMs, 'v2', V2_ROOT, path.join(V2_ROOT, name));
      // A child gets the cpu controller only if its parent hands it down.
      writeFileSync(path.join(V2_ROOT, 'cgroup.subtree_control'), '+cpu');
      mkdirSync(q.#dir);
      writeFileSync(path.join(q.#dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
    } else {
      throw new Error('no cgroup cpu controller found (neither v1 /sys/fs/cgroup/cpu nor v2 cpu.max)');
    }
    process.once('exit', q.#onExit);
    return q;
  }

  /** Moves a process (all its threads) into the group. */
  add(pid: number): void {
    writeFileSync(path.join(this.#dir, 'cgroup.procs'), String(pid));
  }

  /** Periods and throttled periods so far (subtract two samples for a window). */
  throttling(): ThrottleSample {
    const stat = readIfExists(path.join(this.#dir, 'cpu.stat')) ?? '';
    const field = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
    return { periods: field('nr_periods'), throttled: field('nr_throttled') };
  }

  /** Moves whatever is still in the group back to the root group and removes the group. Idempotent. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    process.removeListener('exit', this.#onExit);
    if (!existsSync(this.#dir)) return;
    const pids = (readIfExists(path.join(this.#dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        writeFileSync(path.join(this.#root, 'cgroup.procs'), pid);
      } catch {
        // The process exited meanwhile: nothing to move.
      }
    }
    rmdirSync(this.#dir);
  }
}

/** Share of a window's scheduler periods in which the group ran out of quota (0..1). */
export function throttledShare(before: ThrottleSample, after: ThrottleSample): number {
  const periods = after.periods - before.periods;
  return periods > 0 ? (after.throttled - before.throttled) / periods : 0;
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
