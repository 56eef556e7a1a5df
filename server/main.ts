/** Process entry: load config, start the service, stop cleanly on SIGINT/SIGTERM. */
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
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    service.close().then(
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

main().catch((err: unknown) => {
  console.error('calling service failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
