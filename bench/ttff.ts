/**
 * Time to first media: (a) replay bots joining rooms that already have a publisher, at a given
 * join rate: WebSocket connect → join answered → first RTP packet (by default the timed joiners
 * receive only, so the bots' core is not what is measured); (b) 1:1 video calls between
 * two real Chromium pages (fake camera): the callee's accept → first remote frame decoded and
 * presented (requestVideoFrameCallback), on both sides. The mediasoup worker runs alone on core 0;
 * the bots, Chromium and the service's Node.js process on core 1. Appends to
 * bench/results/ttff.json.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import { sleep } from '../bot/runner/backoff.js';
import { distribution, type Distribution } from '../bot/stats/percentiles.js';
import { signalingUrl } from '../bot/targetUrl.js';
import { launchChromium } from '../test/support/browser.js';
import { bundleTtffPage } from './browser/pageBundle.js';
import type { AnswerTiming, CallerTiming, SideTiming } from './browser/ttffPage.js';
import { BotFleet } from './lib/botFleet.js';
import { receiveOnly } from './lib/receiveOnly.js';
import { parseFlags, runBench, table } from './lib/cli.js';
import { startBenchRun } from './lib/benchRun.js';
import { pinProcess } from './lib/pin.js';
import { appendResult } from './lib/results.js';
import type { ServiceProcess } from './lib/serviceProcess.js';
import { signInTestAccounts } from './lib/testAccounts.js';

const flags = parseFlags(
  {
    rooms: {
      default: 25,
      min: 1,
      max: 200,
      help: 'rooms, each with one publishing bot before the timed joins',
    },
    joiners: { default: 100, min: 1, max: 1000, help: 'timed bot joins, spread over the rooms' },
    'join-rate': { default: 50, min: 1, max: 500, help: 'timed joins per second' },
    'joiners-publish': {
      default: 0,
      min: 0,
      max: 1,
      help: '1: the timed joiners publish audio and video too (their own sending then shares the bots core)',
    },
    pages: { default: 20, min: 0, max: 200, help: 'Chromium 1:1 calls (0 skips the browser part)' },
    'time-limit': { default: 300, min: 30, max: 3600, help: 'hard limit for the whole run, seconds' },
  },
  'npm run bench:ttff -- [flags]',
);

const FRAME_TIMEOUT_MS = 10_000;
/** Lets the previous call end everywhere before the next one rings. */
const CALL_GAP_MS = 500;

interface BotResult {
  joins: number;
  joined: number;
  failed: number;
  /** WebSocket connect started → join answered. */
  joinMs: Distribution | undefined;
  /** join answered → first RTP packet of any stream. */
  joinedToFirstPacketMs: Distribution | undefined;
  /** WebSocket connect started → first RTP packet (the sum, per bot). */
  connectToFirstPacketMs: Distribution | undefined;
}

async function botJoins(service: ServiceProcess, signal: AbortSignal): Promise<BotResult> {
  const createEngine = await prepareEngine({
    engine: 'replay',
    video: { width: 640, height: 480, fps: 20 },
    videoKbps: 800,
    simulcast: false,
  });
  const base = new URL(service.url);
  const common = {
    baseUrl: base,
    signalingUrl: signalingUrl(base),
    bindAddress: '127.0.0.1',
    createEngine,
    roomPrefix: `ttff-${randomBytes(3).toString('hex')}`,
  };
  // Same room names: the joiners' fleet numbers its rooms from 1 like the hosts' fleet did.
  const hosts = new BotFleet({ ...common, perRoom: 1 });
  const joiners = new BotFleet({
    ...common,
    createEngine: flags['joiners-publish'] === 1 ? createEngine : receiveOnly(createEngine),
    perRoom: Math.ceil(flags.joiners / flags.rooms),
  });
  try {
    console.log(`bots: ${flags.rooms} publishing hosts joining…`);
    await hosts.addRooms(flags.rooms, 20, signal);
    await hosts.settled(30_000);
    await sleep(2_000, signal);
    console.log(`bots: ${flags.joiners} timed joins at ${flags['join-rate']}/s…`);
    await joiners.addRooms(flags.rooms, flags['join-rate'], signal);
    await joiners.settled(30_000);
    await sleep(3_000, signal);
    const bots = joiners.snapshots();
    const connectToFirst = bots.flatMap((b) =>
      b.joinMs !== undefined && b.joinToFirstPacketMs !== undefined ? [b.joinMs + b.joinToFirstPacketMs] : [],
    );
    return {
      joins: bots.length,
      joined: bots.filter((b) => b.state === 'joined').length,
      failed: bots.filter((b) => b.state === 'failed').length,
      joinMs: distribution(bots.flatMap((b) => (b.joinMs !== undefined ? [b.joinMs] : []))),
      joinedToFirstPacketMs: distribution(
        bots.flatMap((b) => (b.joinToFirstPacketMs !== undefined ? [b.joinToFirstPacketMs] : [])),
      ),
      connectToFirstPacketMs: distribution(connectToFirst),
    };
  } finally {
    await joiners.stop();
    await hosts.stop();
  }
}

/** Per side of the call: milliseconds from the callee's accept to each step. */
type SideSteps = Record<'mediaJoined' | 'published' | 'remoteTrack' | 'firstFrame', Distribution | undefined>;

interface BrowserResult {
  repetitions: number;
  failures: string[];
  callee: SideSteps;
  caller: SideSteps & { acceptSeen: Distribution | undefined };
}

function sideSteps(sides: SideTiming[], acceptAt: number[]): SideSteps {
  const since = (pick: (t: SideTiming) => number): Distribution | undefined =>
    distribution(sides.map((t, i) => pick(t) - acceptAt[i]!));
  return {
    mediaJoined: since((t) => t.mediaJoinedAt),
    published: since((t) => t.publishedAt),
    remoteTrack: since((t) => t.trackAt),
    firstFrame: since((t) => t.firstFrameAt),
  };
}

/** 1:1 video calls between two Chromium pages signed in as two test numbers. */
async function browserCalls(service: ServiceProcess, signal: AbortSignal): Promise<BrowserResult> {
  const [caller, callee] = await signInTestAccounts(service.url, 2);
  const script = await bundleTtffPage();
  // Launched from this process, Chromium inherits its pinning to the bots' core.
  const browser = await launchChromium();
  const timings: { callee: AnswerTiming; caller: CallerTiming }[] = [];
  const failures: string[] = [];
  try {
    const open = async (token: string): Promise<Page> => {
      const page = await browser.newPage();
      // Any page of the service's origin will do: getUserMedia is allowed on http://127.0.0.1.
      await page.goto(`${service.url}/healthz`);
      await page.addScriptTag({ content: script });
      await page.evaluate((t) => window.ttff.connect(t), token);
      return page;
    };
    const callerPage = await open(caller!.accessToken);
    const calleePage = await open(callee!.accessToken);
    for (let i = 0; i < flags.pages && !signal.aborted; i++) {
      try {
        const [answered, called] = await Promise.all([
          calleePage.evaluate((t) => window.ttff.answer(t), FRAME_TIMEOUT_MS),
          callerPage.evaluate(([u, t]) => window.ttff.call(u, t), [
            callee!.userId,
            FRAME_TIMEOUT_MS,
          ] as const),
        ]);
        timings.push({ callee: answered, caller: called });
      } catch (err) {
        failures.push((err as Error).message.split('\n')[0]!);
      } finally {
        await calleePage.evaluate(() => window.ttff.hangup()).catch(() => undefined);
        await callerPage.evaluate(() => window.ttff.hangup()).catch(() => undefined);
      }
      await sleep(CALL_GAP_MS, signal);
      if (process.stdout.isTTY) process.stdout.write(`\rchromium calls: ${i + 1}/${flags.pages}`);
    }
    if (process.stdout.isTTY) process.stdout.write('\n');
  } finally {
    await browser.close();
  }
  const acceptAt = timings.map((t) => t.callee.acceptAt);
  return {
    repetitions: flags.pages,
    failures,
    callee: sideSteps(
      timings.map((t) => t.callee),
      acceptAt,
    ),
    caller: {
      acceptSeen: distribution(timings.map((t, i) => t.caller.acceptedAt - acceptAt[i]!)),
      ...sideSteps(
        timings.map((t) => t.caller),
        acceptAt,
      ),
    },
  };
}

function row(name: string, d: Distribution | undefined): (string | number)[] {
  const f = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(0));
  return [name, f(d?.p50), f(d?.p95), f(d?.p99), f(d?.max), d?.count ?? 0];
}

runBench(flags['time-limit'], async (signal) => {
  const { cores, busyAtStart, service } = await startBenchRun({
    serviceCore: 'bots',
    env: { MEDIASOUP_NUM_WORKERS: '1' },
  });
  let bots: BotResult | undefined;
  let pages: BrowserResult | undefined;
  try {
    const [workerPid] = await service.workerPids();
    if (workerPid === undefined) throw new Error('the service reports no worker');
    pinProcess(workerPid, [cores.sfu]);
    bots = await botJoins(service, signal);
    if (flags.pages > 0 && !signal.aborted) pages = await browserCalls(service, signal);
  } finally {
    await service.stop();
  }
  const rows = [
    row('bots: connect → join answered', bots.joinMs),
    row('bots: join answered → first RTP packet', bots.joinedToFirstPacketMs),
    row('bots: connect → first RTP packet', bots.connectToFirstPacketMs),
  ];
  if (pages) {
    rows.push(
      row('callee: accept → media room joined', pages.callee.mediaJoined),
      row('callee: accept → own producers created', pages.callee.published),
      row("callee: accept → caller's video track", pages.callee.remoteTrack),
      row("callee: accept → caller's first frame", pages.callee.firstFrame),
      row('caller: accept → callUpdated(active) seen', pages.caller.acceptSeen),
      row('caller: accept → media room joined', pages.caller.mediaJoined),
      row('caller: accept → own producers created', pages.caller.published),
      row("caller: accept → callee's video track", pages.caller.remoteTrack),
      row("caller: accept → callee's first frame", pages.caller.firstFrame),
    );
  }
  console.log(`\n${table(['ms', 'p50', 'p95', 'p99', 'max', 'n'], rows)}`);
  console.log(
    `bots: ${bots.joined}/${bots.joins} joined at ${flags['join-rate']} joins/s, ${bots.failed} failed` +
      (pages ? `; chromium: ${pages.failures.length} of ${pages.repetitions} calls failed` : ''),
  );
  for (const f of new Set(pages?.failures ?? [])) console.log(`  failure: ${f}`);
  const file = await appendResult('ttff', {
    busyAtStart,
    flags,
    split: 'mediasoup worker alone on core 0; bots, Chromium and the service node process on core 1',
    measured: 'bots: join → first packet; chromium: 1:1 call accept → first decoded frame',
    bots,
    browser: pages ?? null,
  });
  console.log(`appended to ${file}`);
});
