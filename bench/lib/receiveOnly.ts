/**
 * Wraps an engine factory so its bots join and consume but never publish: the timed joiners of
 * bench:ttff add no media of their own, so the bots' core measures the service's join path
 * rather than its own sending load.
 */
import type { BotEngine, EngineFactory } from '../../bot/engine/botEngine.js';

export function receiveOnly(factory: EngineFactory): EngineFactory {
  return (ctx) => {
    const engine = factory(ctx);
    const wrapped: BotEngine = {
      kind: engine.kind,
      join: () => engine.join(),
      publish: () => Promise.resolve(),
      close: () => engine.close(),
      stats: (now) => engine.stats(now),
      on: (event, listener) => engine.on(event, listener),
    };
    return wrapped;
  };
}
