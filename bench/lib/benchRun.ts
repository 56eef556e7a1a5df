/**
 * The start every loopback benchmark shares: bench setup, wait for a quiet machine, pin this process
 * to the bots' core, and start the compiled service (as `npm start` runs it) on the chosen core.
 */
import { buildServer } from './buildServer.js';
import { runBenchSetup, waitForQuietMachine } from './cli.js';
import { coreSplit, pinProcess } from './pin.js';
import { ServiceProcess } from './serviceProcess.js';

export interface BenchRun {
  cores: { sfu: number; bots: number };
  /** Each core's busy share when measuring began (recorded with the results). */
  busyAtStart: number[];
  service: ServiceProcess;
}

export async function startBenchRun(opts: {
  /** Which core the service's Node.js process (and, until re-pinned, its worker) runs on. */
  serviceCore: 'sfu' | 'bots';
  env: Record<string, string>;
  nodeArgs?: string[];
}): Promise<BenchRun> {
  runBenchSetup();
  const cores = coreSplit();
  const busyAtStart = await waitForQuietMachine([cores.sfu, cores.bots]);
  pinProcess(process.pid, [cores.bots]);
  const service = await ServiceProcess.start({
    host: '127.0.0.1',
    cores: [cores[opts.serviceCore]],
    env: opts.env,
    // Compiled, as `npm start` runs it (see buildServer.ts).
    entry: await buildServer(),
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
  });
  return { cores, busyAtStart, service };
}
