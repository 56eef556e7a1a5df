/**
 * `npm run bot -- --url … --rooms N --per-room M --duration S --engine replay|real --ramp R`
 * Runs a load test against one service, prints progress and a summary table, and writes
 * report.json and report.html. Ctrl-C stops early and still writes the report; a second
 * Ctrl-C exits at once.
 */
import { prepareEngine } from './engine/prepareEngine.js';
import { BotError, errorMessage } from './errors.js';
import { parseCliArgs, USAGE, type CliOptions } from './cli/args.js';
import { ProgressPrinter } from './cli/progress.js';
import { buildReport } from './report/buildReport.js';
import { summaryTable } from './report/summaryTable.js';
import { writeReport } from './report/writeReport.js';
import { runLoadTest } from './runner/loadTest.js';
import { IN_NETNS_ENV, runInNamespace } from './netns/impairedRun.js';

async function main(): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  // An impaired run: this process only holds the namespace; the bots run in a child inside it.
  if (opts.netnsProfile && !process.env[IN_NETNS_ENV])
    return runInNamespace(opts.netnsProfile, process.argv.slice(2), (line) => console.log(`[netns] ${line}`));

  const progress = new ProgressPrinter(process.stdout, process.stdout.isTTY === true);
  const stop = new AbortController();
  process.on('SIGINT', () => {
    if (stop.signal.aborted) process.exit(130);
    progress.message('stopping: bots are leaving (Ctrl-C again to quit at once)…');
    stop.abort();
  });
  process.on('SIGTERM', () => stop.abort());
  // One bot's stray rejection must not end a run of hundreds; it is reported instead.
  let strays = 0;
  process.on('unhandledRejection', (reason) => {
    if (strays++ < 5) progress.message(`unhandled rejection in a bot: ${errorMessage(reason)}`);
  });

  progress.message(
    `preparing the ${opts.engine} engine${opts.engine === 'replay' ? ' (encoding the clip with ffmpeg the first time)' : ''}…`,
  );
  const createEngine = await prepareEngine({
    engine: opts.engine,
    video: opts.video,
    videoKbps: opts.videoKbps,
    simulcast: opts.simulcast,
  });
  const result = await runLoadTest(
    {
      url: opts.url,
      rooms: opts.rooms,
      perRoom: opts.perRoom,
      durationSeconds: opts.durationSeconds,
      rampPerSecond: opts.rampPerSecond,
      engine: opts.engine,
      ...(opts.roomPrefix ? { roomPrefix: opts.roomPrefix } : {}),
    },
    { createEngine, signal: stop.signal, onSample: (s, total) => progress.update(s, total) },
  );
  progress.done();
  const report = buildReport(result);
  const files = await writeReport(report, opts.reportDir);
  console.log(`\n${summaryTable(report)}\n`);
  if (strays > 0) console.log(`unhandled rejections: ${strays}`);
  console.log(`report: ${files.json}\n        ${files.html}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof BotError ? `${err.code}: ${err.message}` : err);
    process.exit(1);
  },
);
