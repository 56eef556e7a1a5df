/**
 * Time to first media: (a) replay bots joining rooms that already have a publisher, at a given
 * join rate: WebSocket connect → join answered → first RTP packet (by default the timed joiners
 * receive only, so the bots' core is not what is measured); (b) 1:1 video calls between
 * two real Chromium pages (fake camera) through the SDK's CallClient: the callee's accept → first
 * remote frame decoded and presented (requestVideoFrameCallback), on both sides, per phase; the
 * first call of freshly loaded pages; and a P2P reference between the same pages (no SFU), in the
 * same run so the ratio to the floor is measured side by side. The mediasoup worker runs alone on core 0;
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
    'first-calls': {
      default: 5,
      min: 0,
      max: 50,
      help: 'first calls of two freshly loaded pages (with --pages > 0)',
    },
    'p2p-calls': { default: 20, min: 0, max: 200, help: 'P2P reference calls between the same two pages' },
    'answer-delay': {
      default: 1500,
      min: 0,
      max: 10_000,
      help: 'ms the callee lets it ring before accepting (a person takes a moment; 0 answers at once)',
    },
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
    joinRoomsOf: hosts.invites,
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
    // Why bots failed, once per distinct message (a run with failures must say what they were).
    const whys = new Set(bots.flatMap((b) => b.errors.map((e) => `${e.code}: ${e.message}`)));
    for (const why of whys) console.log(`  bot failure: ${why}`);
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
type SideSteps = Record<'mediaConnected' | 'remoteTrack' | 'firstFrame', Distribution | undefined>;

interface CallsResult {
  repetitions: number;
  failures: string[];
  callee: SideSteps;
  caller: SideSteps & { acceptSeen: Distribution | undefined };
}

interface BrowserResult {
  /** Calls between two pages that have made calls before (the steady state). */
  steady: CallsResult;
  /** The first call of two freshly loaded pages (the caller calls right after connecting). */
  firstAfterLoad: CallsResult;
  /** Two pages and two RTCPeerConnections, no server in the media path: the floor. */
  p2p: {
    repetitions: number;
    failures: string[];
    callee: Distribution | undefined;
    caller: Distribution | undefined;
  };
}

function sideSteps(sides: SideTiming[], acceptAt: number[]): SideSteps {
  const since = (pick: (t: SideTiming) => number): Distribution | undefined =>
    distribution(sides.map((t, i) => pick(t) - acceptAt[i]!).filter((v) => Number.isFinite(v)));
  return {
    mediaConnected: since((t) => t.mediaConnectedAt),
    remoteTrack: since((t) => t.trackAt),
    firstFrame: since((t) => t.firstFrameAt),
  };
}

function callsResult(
  repetitions: number,
  failures: string[],
  timings: { callee: AnswerTiming; caller: CallerTiming }[],
): CallsResult {
  const acceptAt = timings.map((t) => t.callee.acceptAt);
  return {
    repetitions,
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

/**
 * 1:1 video calls between two Chromium pages signed in as two test numbers, through the SDK's
 * CallClient as the web page uses it; then the first call of freshly loaded pages; then the P2P
 * reference between the same two pages. Each page is a context that granted camera and microphone
 * (as for someone who has called before), so a ringing callee warms up like in the web page.
 */
async function browserCalls(service: ServiceProcess, signal: AbortSignal): Promise<BrowserResult> {
  const [caller, callee] = await signInTestAccounts(service.url, 2);
  const script = await bundleTtffPage();
  // Launched from this process, Chromium inherits its pinning to the bots' core.
  const browser = await launchChromium();
  const delay = flags['answer-delay'];
  const open = async (token: string): Promise<{ page: Page; close: () => Promise<void> }> => {
    // The service's pages forbid inline scripts (CSP); the bench injects its own, so it bypasses that.
    const context = await browser.newContext({ bypassCSP: true });
    await context.grantPermissions(['camera', 'microphone'], { origin: service.url });
    const page = await context.newPage();
    // Any page of the service's origin will do: getUserMedia is allowed on http://127.0.0.1.
    await page.goto(`${service.url}/healthz`);
    await page.addScriptTag({ content: script });
    await page.evaluate((t) => window.ttff.connect(t), token);
    return { page, close: () => context.close() };
  };
  const oneCall = async (
    callerPage: Page,
    calleePage: Page,
  ): Promise<{ callee: AnswerTiming; caller: CallerTiming }> => {
    try {
      const [answered, called] = await Promise.all([
        calleePage.evaluate(([d, t]) => window.ttff.answer(d, t), [delay, FRAME_TIMEOUT_MS] as const),
        callerPage.evaluate(([u, t]) => window.ttff.call(u, t), [callee!.userId, FRAME_TIMEOUT_MS] as const),
      ]);
      return { callee: answered, caller: called };
    } finally {
      await calleePage.evaluate(() => window.ttff.hangup()).catch(() => undefined);
      await callerPage.evaluate(() => window.ttff.hangup()).catch(() => undefined);
    }
  };
  const progress = (what: string, i: number, n: number): void => {
    if (process.stdout.isTTY) process.stdout.write(`\r${what}: ${i}/${n}${i === n ? '\n' : ''}`);
  };
  try {
    // The first call after loading the pages, each time with two fresh pages.
    const firsts: { callee: AnswerTiming; caller: CallerTiming }[] = [];
    const firstFailures: string[] = [];
    for (let i = 0; i < flags['first-calls'] && !signal.aborted; i++) {
      const [a, b] = [await open(caller!.accessToken), await open(callee!.accessToken)];
      try {
        firsts.push(await oneCall(a.page, b.page));
      } catch (err) {
        firstFailures.push((err as Error).message.split('\n')[0]!);
      } finally {
        await a.close();
        await b.close();
      }
      await sleep(CALL_GAP_MS, signal);
      progress('chromium first calls after load', i + 1, flags['first-calls']);
    }

    const a = await open(caller!.accessToken);
    const b = await open(callee!.accessToken);
    const steady: { callee: AnswerTiming; caller: CallerTiming }[] = [];
    const failures: string[] = [];
    for (let i = 0; i < flags.pages && !signal.aborted; i++) {
      try {
        steady.push(await oneCall(a.page, b.page));
      } catch (err) {
        failures.push((err as Error).message.split('\n')[0]!);
      }
      await sleep(CALL_GAP_MS, signal);
      progress('chromium calls', i + 1, flags.pages);
    }

    // The floor: the same pages, a direct connection. The offer is made while it "rings".
    const p2p = { callee: [] as number[], caller: [] as number[], failures: [] as string[] };
    for (let i = 0; i < flags['p2p-calls'] && !signal.aborted; i++) {
      try {
        const offer = await a.page.evaluate(() => window.ttff.p2pOffer());
        await sleep(delay, signal);
        const { acceptAt, answer } = await b.page.evaluate((o) => window.ttff.p2pAnswer(o), offer);
        const calleeFrame = b.page.evaluate((t) => window.ttff.p2pFirstFrame(t), FRAME_TIMEOUT_MS);
        await a.page.evaluate((s) => window.ttff.p2pApply(s), answer);
        const callerFrame = a.page.evaluate((t) => window.ttff.p2pFirstFrame(t), FRAME_TIMEOUT_MS);
        const [ce, cr] = await Promise.all([calleeFrame, callerFrame]);
        p2p.callee.push(ce.firstFrameAt - acceptAt);
        p2p.caller.push(cr.firstFrameAt - acceptAt);
      } catch (err) {
        p2p.failures.push((err as Error).message.split('\n')[0]!);
      } finally {
        for (const page of [a.page, b.page])
          await page.evaluate(() => window.ttff.p2pClose()).catch(() => undefined);
      }
      await sleep(CALL_GAP_MS, signal);
      progress('p2p reference calls', i + 1, flags['p2p-calls']);
    }
    await a.close();
    await b.close();
    return {
      steady: callsResult(flags.pages, failures, steady),
      firstAfterLoad: callsResult(flags['first-calls'], firstFailures, firsts),
      p2p: {
        repetitions: flags['p2p-calls'],
        failures: p2p.failures,
        callee: distribution(p2p.callee),
        caller: distribution(p2p.caller),
      },
    };
  } finally {
    await browser.close();
  }
}

function row(name: string, d: Distribution | undefined): (string | number)[] {
  const f = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(0));
  return [name, f(d?.p50), f(d?.p95), f(d?.p99), f(d?.max), d?.count ?? 0];
}

runBench(flags['time-limit'], async (signal) => {
  const { cores, busyAtStart, service } = await startBenchRun({
    serviceCore: 'bots',
    env: {
      MEDIASOUP_NUM_WORKERS: '1',
      // The steady calls ring the same callee over and over: the anti-spam limit would refuse them.
      CALL_INVITES_PER_CALLEE: '1000',
      CALL_INVITES_PER_CALLEE_WINDOW_SECONDS: '1',
    },
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
    const { steady, firstAfterLoad, p2p } = pages;
    rows.push(
      row('callee: accept → own media connected', steady.callee.mediaConnected),
      row("callee: accept → caller's video track", steady.callee.remoteTrack),
      row("callee: accept → caller's first frame", steady.callee.firstFrame),
      row('caller: accept → callUpdated(active) seen', steady.caller.acceptSeen),
      row('caller: accept → own media connected', steady.caller.mediaConnected),
      row("caller: accept → callee's video track", steady.caller.remoteTrack),
      row("caller: accept → callee's first frame", steady.caller.firstFrame),
      row("first call after load: callee's first frame", firstAfterLoad.callee.firstFrame),
      row("first call after load: caller's first frame", firstAfterLoad.caller.firstFrame),
      row("p2p reference: callee's first frame", p2p.callee),
      row("p2p reference: caller's first frame", p2p.caller),
    );
  }
  console.log(`\n${table(['ms', 'p50', 'p95', 'p99', 'max', 'n'], rows)}`);
  console.log(
    `bots: ${bots.joined}/${bots.joins} joined at ${flags['join-rate']} joins/s, ${bots.failed} failed` +
      (pages
        ? `; chromium: ${pages.steady.failures.length} of ${pages.steady.repetitions} calls, ` +
          `${pages.firstAfterLoad.failures.length} of ${pages.firstAfterLoad.repetitions} first calls, ` +
          `${pages.p2p.failures.length} of ${pages.p2p.repetitions} p2p calls failed`
        : ''),
  );
  const failures = pages
    ? [...pages.steady.failures, ...pages.firstAfterLoad.failures, ...pages.p2p.failures]
    : [];
  for (const f of new Set(failures)) console.log(`  failure: ${f}`);
  const file = await appendResult('ttff', {
    busyAtStart,
    flags,
    split: 'mediasoup worker alone on core 0; bots, Chromium and the service node process on core 1',
    measured:
      'bots: join → first packet; chromium: 1:1 call (CallClient, warm-up while it rings) accept → first ' +
      'decoded frame, steady and first call after page load; p2p reference between the same pages',
    bots,
    browser: pages ?? null,
  });
  console.log(`appended to ${file}`);
});
