/** Process entry: load config, start the service, drain and stop cleanly on SIGINT/SIGTERM. */
import { ConfigError, loadConfig } from './config.js';
import { startCallingService } from './callingService.js';
import { createLogger } from '../lib/logger.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, { nodeId: config.nodeId });
  const service = await startCallingService(config, log);
  let stopping = false;
  // SIGTERM (and SIGINT) drain first: clients are told to move, rooms empty, then everything closes
  // and the process exits 0. mediasoup's own signal handlers are removed (sfu/workerPool.ts), so
  // its workers stay up until the drain is over.
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal, drainTimeoutMs: config.drainTimeoutMs });
    // A shutdown that hangs anyway must not keep the process (and its ports) forever.
    setTimeout(() => {
      log.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.drainTimeoutMs + SHUTDOWN_GRACE_MS).unref();
    service
      .drain(config.drainTimeoutMs)
      .then(() => service.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          log.error('shutdown failed', { error });
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** What closing takes after the drain (store writes, workers, connections) before we give up. */
const SHUTDOWN_GRACE_MS = 15_000;

main().catch((err: unknown) => {
  console.error('calling service failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
