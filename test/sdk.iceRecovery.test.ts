/**
 * The SDK's ICE recovery rules (client/sdk/iceRecovery.ts) on their own, with short timings: restart
 * over a live socket, leave it to the resume when the socket is dead (and do not count that time
 * towards giving up), give up once after the bound, stop when connected again. The whole path runs
 * in real Chromium in test/network.iceRestart.test.ts; this pins down the rules.
 */
import { describe, expect, it } from 'vitest';
import { IceRecovery } from '../client/sdk/iceRecovery.js';
import { until } from './support/poll.js';

function recovery(alive: () => boolean, opts = { retryEveryMs: 40, giveUpAfterMs: 200 }) {
  const seen = { restarts: 0, probes: 0, gaveUp: 0 };
  const r = new IceRecovery(
    {
      checkAlive: async () => {
        seen.probes++;
        return alive();
      },
      restartIce: async () => void seen.restarts++,
      giveUp: () => void seen.gaveUp++,
    },
    opts,
  );
  return { r, seen };
}

describe('IceRecovery', () => {
  it('restarts ICE over a live socket, again while still down, and stops once connected', async () => {
    const { r, seen } = recovery(() => true);
    r.onState('connected');
    r.onState('disconnected');
    await until(() => seen.restarts >= 2, { what: 'two restarts', timeoutMs: 2000 });
    r.onState('connected');
    const after = seen.restarts;
    // Nothing may happen from now on: watched over a few retry periods.
    await new Promise((res) => setTimeout(res, 150));
    expect(seen.restarts).toBe(after);
    expect(seen.gaveUp).toBe(0);
    r.stop();
  });

  it('gives up once after the bound when ICE stays down with the socket up', async () => {
    const { r, seen } = recovery(() => true);
    const started = Date.now();
    r.onState('failed');
    await until(() => seen.gaveUp === 1, { what: 'give up', timeoutMs: 2000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    // Once only: watched over a few retry periods.
    await new Promise((res) => setTimeout(res, 150));
    expect(seen.gaveUp).toBe(1);
    r.stop();
  });

  it('does not restart nor count towards giving up while the socket is dead (the resume restarts ICE)', async () => {
    let socketUp = false;
    const { r, seen } = recovery(() => socketUp);
    r.onState('disconnected');
    await until(() => seen.probes >= 8, { what: 'probes while the socket is down', timeoutMs: 2000 });
    expect(seen.restarts).toBe(0);
    expect(seen.gaveUp).toBe(0);
    // The socket is back: the clock starts now, not at the first `disconnected`.
    socketUp = true;
    const upAt = Date.now();
    await until(() => seen.gaveUp === 1, { what: 'give up', timeoutMs: 2000 });
    expect(Date.now() - upAt).toBeGreaterThanOrEqual(200);
    expect(seen.restarts).toBeGreaterThan(0);
    r.stop();
  });
});
