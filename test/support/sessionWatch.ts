/**
 * Watches the web page's room session from inside the page, for the resume tests: it samples the
 * video frames decoded every ~150 ms (so a media gap shows to the sample) and records the session's
 * peer id and its `peerLeft` / `resumed` / `rejoined` / `transportState` events with page timestamps.
 */
import type { Page } from 'playwright-core';

export interface WatchReport {
  peerIds: string[];
  peerLeft: string[];
  resumed: { elapsedMs: number; replayed: number; at: number }[];
  rejoined: { elapsedMs: number; peerId: string; at: number }[];
  /** [page time, direction, state] */
  transportStates: [number, string, string][];
  /** [page time, frames decoded over every remote video] */
  samples: [number, number][];
}

interface Watch extends WatchReport {
  stop: () => void;
}

const key = '__sessionWatch';

/** Starts watching the page's current room session (it must have joined). */
export async function watchSession(page: Page, intervalMs = 150): Promise<void> {
  await page.evaluate(
    ({ key, intervalMs }) => {
      const session = window.callApp.session();
      if (!session) throw new Error('no room session on the page');
      const w: Watch = {
        peerIds: [session.peerId],
        peerLeft: [],
        resumed: [],
        rejoined: [],
        transportStates: [],
        samples: [],
        stop: () => undefined,
      };
      session.on('peerLeft', (id) => w.peerLeft.push(id));
      session.on('resumed', (r) => w.resumed.push({ ...r, at: Date.now() }));
      session.on('rejoined', (r) => w.rejoined.push({ ...r, at: Date.now() }));
      session.on('transportState', (direction, state) =>
        w.transportStates.push([Date.now(), direction, state]),
      );
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        const current = window.callApp.session();
        if (current && w.peerIds[w.peerIds.length - 1] !== current.peerId) w.peerIds.push(current.peerId);
        void (current?.getReceiveStats() ?? Promise.resolve(new Map<string, RTCStatsReport>()))
          .then((reports) => {
            let frames = 0;
            for (const report of reports.values())
              report.forEach((s: { type: string; kind?: string; framesDecoded?: number }) => {
                if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
              });
            w.samples.push([Date.now(), frames]);
          })
          .finally(() => {
            busy = false;
          });
      }, intervalMs);
      w.stop = () => clearInterval(timer);
      (window as unknown as Record<string, Watch>)[key] = w;
    },
    { key, intervalMs },
  );
}

export function readWatch(page: Page): Promise<WatchReport> {
  return page.evaluate((key) => {
    const w = (window as unknown as Record<string, WatchReport>)[key];
    if (!w) throw new Error('not watching');
    return {
      peerIds: [...w.peerIds],
      peerLeft: [...w.peerLeft],
      resumed: [...w.resumed],
      rejoined: [...w.rejoined],
      transportStates: [...w.transportStates],
      samples: [...w.samples],
    };
  }, key);
}

/**
 * The longest time between two samples in which the decoded frame count went up (or the last and
 * now), from the first sample with frames on: how long the video froze at worst.
 */
export function longestFreezeMs(samples: [number, number][]): number {
  let lastChange: number | undefined;
  let lastFrames = 0;
  let worst = 0;
  for (const [t, frames] of samples) {
    if (frames > lastFrames) {
      if (lastChange !== undefined) worst = Math.max(worst, t - lastChange);
      lastChange = t;
      lastFrames = frames;
    }
  }
  const end = samples[samples.length - 1]?.[0];
  if (lastChange !== undefined && end !== undefined) worst = Math.max(worst, end - lastChange);
  return worst;
}
