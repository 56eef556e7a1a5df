/**
 * The load ramp of the capacity benchmarks: add rooms of bots a few at a time, measure a window after
 * each step, and stop at the first of: loss above the limit, the SFU's CPU at its limit (its quota when
 * it runs in a CpuQuota group, else a whole core), the bots' core saturated, or the room limit. A window
 * in which another job took the SFU's core is measured again (a few times at most). Shared by
 * bench/capacity.ts and bench/versusJanus.ts so both SFUs are ramped the same way.
 */
import { sleep } from '../../bot/runner/backoff.js';
import { type BotFleet, type FleetTotals, windowLossPct } from './botFleet.js';
import { CoreLoadMeter } from './coreLoad.js';
import { type CpuQuota, throttledShare } from './cpuQuota.js';
import { CpuMeter, SelfCpuMeter } from './procCpu.js';

/** A core (or quota) above this share is saturated: scheduling noise keeps a busy one just under 100%. */
export const SATURATED = 0.95;
/** Busy share of the SFU core beyond the SFU's own that means another job ran there. */
const FOREIGN_LOAD = 0.25;
const MAX_RETRIES = 3;

export interface RampStep {
  rooms: number;
  bots: number;
  joined: number;
  /** Streams counted as the caller counts them (server consumers, or streams the bots receive). */
  streams: number;
  /** Streams the bots received packets on during the window. */
  receiving: number;
  lossPct: number;
  sfuCpu: number;
  /** The SFU core's total busy share: above sfuCpu when something else ran there. */
  sfuCoreBusy: number;
  /** Share of scheduler periods in which the SFU ran out of quota (0 without a quota). */
  throttled: number;
  botsCpu: number;
  /** Other load on the bots' core the caller reports (e.g. our service's Node.js process). */
  otherBotsCoreCpu: number;
  /** streams / sfuCpu: what a full core would carry at this step's cost per stream. */
  streamsPerCpu: number;
}

export interface RampResult {
  quota: number | null;
  stopReason: string;
  /** Whether the run ended because the SFU ran out of CPU or lost packets (not the bots, not a limit). */
  saturated: boolean;
  steps: RampStep[];
  /** The last step at or under the loss limit. */
  best: RampStep | null;
  /** best.streams / quota (or / a whole core uncapped) when saturated: the capacity per core. */
  streamsPerCore: number | null;
}

export interface RampOptions {
  fleet: BotFleet;
  sfuPid: number;
  sfuCore: number;
  quota: CpuQuota | undefined;
  stepRooms: number;
  maxRooms: number;
  joinRate: number;
  settleSeconds: number;
  windowSeconds: number;
  maxLoss: number;
  signal: AbortSignal;
  /** How many streams the SFU forwards now (after the window). */
  streams: (after: FleetTotals) => Promise<number>;
  /** CPU share of other processes on the bots' core over the window (sampled like the meters). */
  otherBotsCoreLoad?: () => number;
  onStep?: (step: RampStep) => void;
}

export async function rampToSaturation(o: RampOptions): Promise<RampResult> {
  const limit = o.quota?.quota ?? 1;
  const sfu = new CpuMeter(o.sfuPid);
  const self = new SelfCpuMeter();
  const core = new CoreLoadMeter(o.sfuCore);
  const steps: RampStep[] = [];
  let stopReason = 'max rooms reached';
  let saturated = false;

  const measureWindow = async (): Promise<RampStep> => {
    const before = o.fleet.totals();
    const throttleBefore = o.quota?.throttling();
    sfu.sample();
    self.sample();
    core.sample();
    o.otherBotsCoreLoad?.();
    await sleep(o.windowSeconds * 1000, o.signal);
    const after = o.fleet.totals();
    const sfuCpu = sfu.sample();
    const streams = await o.streams(after);
    return {
      rooms: o.fleet.rooms,
      bots: after.bots,
      joined: after.joined,
      streams,
      receiving: after.streams,
      lossPct: windowLossPct(before, after),
      sfuCpu,
      sfuCoreBusy: core.sample(),
      throttled: o.quota && throttleBefore ? throttledShare(throttleBefore, o.quota.throttling()) : 0,
      botsCpu: self.sample(),
      otherBotsCoreCpu: o.otherBotsCoreLoad?.() ?? 0,
      streamsPerCpu: streams / Math.max(0.01, sfuCpu),
    };
  };

  while (!o.signal.aborted && o.fleet.rooms < o.maxRooms) {
    await o.fleet.addRooms(Math.min(o.stepRooms, o.maxRooms - o.fleet.rooms), o.joinRate, o.signal);
    await o.fleet.settled(20_000);
    await sleep(o.settleSeconds * 1000, o.signal);
    if (o.signal.aborted) break;
    let step = await measureWindow();
    // Another job took the SFU core during the window: its loss and CPU say nothing about the SFU.
    for (let retry = 0; retry < MAX_RETRIES && !o.signal.aborted; retry++) {
      if (step.sfuCoreBusy - step.sfuCpu <= FOREIGN_LOAD) break;
      console.log(
        `  (the SFU core was ${(step.sfuCoreBusy * 100).toFixed(0)}% busy with the SFU at ${(step.sfuCpu * 100).toFixed(0)}%: another job ran there; measuring again)`,
      );
      step = await measureWindow();
    }
    if (o.signal.aborted) break;
    steps.push(step);
    o.onStep?.(step);
    if (step.lossPct > o.maxLoss) {
      stopReason = `loss ${step.lossPct.toFixed(2)}% > ${o.maxLoss}%`;
      saturated = true;
      break;
    }
    if (step.sfuCpu >= SATURATED * limit) {
      stopReason = o.quota
        ? `the SFU used its quota (${(step.sfuCpu * 100).toFixed(0)}% of a core of ${(limit * 100).toFixed(0)}%, throttled in ${(step.throttled * 100).toFixed(0)}% of periods)`
        : `the SFU core saturated (${(step.sfuCpu * 100).toFixed(0)}%)`;
      saturated = true;
      break;
    }
    if (step.botsCpu + step.otherBotsCoreCpu >= SATURATED) {
      stopReason = `the bots' core saturated (bots ${(step.botsCpu * 100).toFixed(0)}% + other ${(step.otherBotsCoreCpu * 100).toFixed(0)}%)`;
      break;
    }
  }
  if (o.signal.aborted) stopReason = 'stopped early (Ctrl-C or time limit)';
  const best = steps.filter((s) => s.lossPct <= o.maxLoss).at(-1) ?? null;
  return {
    quota: o.quota?.quota ?? null,
    stopReason,
    saturated,
    steps,
    best,
    streamsPerCore: saturated && best ? best.streams / limit : null,
  };
}
