/**
 * A bigger signaling fuzz than CI runs: `npm run bench:fuzz -- --messages 100000 --seed 7`.
 * Starts the service as a child process (development tokens, one media worker), fuzzes it with
 * bench/lib/signalingFuzzer.ts, and prints what came back: answers by code, latency, INTERNAL
 * answers with the frames that caused them, whether a worker was lost, and the heap (after GC)
 * before and after. Exits non-zero when any of test/signaling.fuzz.test.ts's conditions fails.
 */
import { parseFlags, runBench, table } from './lib/cli.js';
import { fuzzServerEnv, heapAfterGc, serverWorkerPids, signInFuzzUsers } from './lib/fuzzService.js';
import { runSignalingFuzz } from './lib/signalingFuzzer.js';
import { startServerProcess } from '../test/support/serverProcess.js';

const flags = parseFlags(
  {
    messages: { default: 100_000, min: 1, max: 10_000_000, help: 'frames to send in total' },
    seed: { default: 1, min: 0, max: 2 ** 32 - 1, help: 'PRNG seed (the same seed sends the same frames)' },
    sockets: { default: 4, min: 1, max: 64, help: 'sockets sending at once' },
    'in-flight': { default: 8, min: 1, max: 256, help: 'unanswered frames per socket at most' },
    'time-limit': { default: 1800, min: 30, max: 86_400, help: 'hard limit for the whole run, seconds' },
  },
  'npm run bench:fuzz -- [flags]',
);

runBench(flags['time-limit'], async (signal) => {
  const server = await startServerProcess(fuzzServerEnv());
  try {
    const pidsBefore = await serverWorkerPids(server.url);
    const heapBefore = await heapAfterGc(server);
    const users = await signInFuzzUsers(server.url, flags.sockets);
    console.log(
      `fuzzing ${server.url}: ${flags.messages} frames, seed ${flags.seed}, ${flags.sockets} sockets`,
    );
    const s = await runSignalingFuzz({
      url: server.url,
      sockets: users,
      messages: flags.messages,
      seed: flags.seed,
      inFlight: flags['in-flight'],
      signal,
    });
    const alive = server.child.exitCode === null && server.child.signalCode === null;
    const pidsAfter = alive
      ? await serverWorkerPids(server.url).catch((e: unknown) => String(e))
      : 'process died';
    const heapAfter = alive ? await heapAfterGc(server) : Number.NaN;

    console.log(
      table(['answer', 'count'], [['ok', s.ok], ...Object.entries(s.byCode).sort((a, b) => b[1] - a[1])]),
    );
    console.log(
      table(
        ['sent', 'answered', 'unanswered', 'late (>2 s)', 'p99 ms', 'max ms', 'reopened', 'seconds'],
        [[s.sent, s.answered, s.unanswered, s.late, s.p99LatencyMs, s.maxLatencyMs, s.reopened, s.seconds]],
      ),
    );
    const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
    console.log(`heap after GC: ${mb(heapBefore)} MB before, ${mb(heapAfter)} MB after`);
    console.log(`workers: ${JSON.stringify(pidsBefore)} before, ${JSON.stringify(pidsAfter)} after`);
    for (const i of s.internal) console.log(`INTERNAL: ${i.message}\n  frame: ${i.frame}`);

    const failures = [
      !alive && 'the service process died',
      s.unanswered > 0 && `${s.unanswered} frames unanswered`,
      s.late > 0 && `${s.late} answers later than 2 s`,
      s.unknownCodes.length > 0 && `unknown error codes: ${s.unknownCodes.join(', ')}`,
      s.internal.length > 0 && `${s.byCode.INTERNAL} INTERNAL answers`,
      JSON.stringify(pidsAfter) !== JSON.stringify(pidsBefore) && 'a media worker was lost',
      heapAfter > heapBefore + 16 * 1024 * 1024 && 'the heap did not come back to its starting range',
    ].filter((f): f is string => typeof f === 'string');
    // The service logs what went wrong behind an INTERNAL answer (its last 64 KB of output).
    if (!alive || s.internal.length > 0) console.log(server.output());
    if (failures.length > 0) throw new Error(`FAIL:\n  ${failures.join('\n  ')}`);
    console.log('PASS');
  } finally {
    await server.stop();
  }
});
