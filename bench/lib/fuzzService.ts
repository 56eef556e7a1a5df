/**
 * What a signaling fuzz run needs from the service it targets: users to connect as (development
 * tokens), the media workers' pids (to notice one was lost), and the heap after a forced GC (to
 * notice what the fuzz left behind). Shared by test/signaling.fuzz.test.ts and bench/signalingFuzz.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { scrapeMetrics } from './metricsScrape.js';

/** Preloaded into the service: a full GC on SIGUSR2, so a heap sample holds live objects only. */
const GC_ON_SIGUSR2 = "process.on('SIGUSR2', () => globalThis.gc())";

/** Environment for a service process that can be asked to collect garbage (heapAfterGc). */
/** The fuzzed service's metrics token: /metrics and /healthz details are not anonymous. */
const METRICS_TOKEN = randomBytes(24).toString('hex');

export function fuzzServerEnv(): Record<string, string> {
  return {
    METRICS_TOKEN,
    // The fuzz measures how the service answers bad input, not its per-socket request budget: a budget
    // this high is never the answer (the limits have their own test, test/signaling.limits.test.ts).
    WS_REQUESTS_PER_SECOND: '100000',
    WS_REQUEST_BURST: '100000',
    NODE_OPTIONS: `--expose-gc --import=data:text/javascript,${encodeURIComponent(GC_ON_SIGUSR2)}`,
  };
}

export async function signInFuzzUsers(
  baseUrl: string,
  n: number,
): Promise<{ token: string; userId: string }[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await fetch(`${baseUrl}/api/v1/dev/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ displayName: `fuzz-${i}-${randomBytes(2).toString('hex')}` }),
      });
      if (!res.ok) throw new Error(`dev token: HTTP ${res.status} (is DEV_TOKENS on?)`);
      const body = (await res.json()) as { token: string; userId: string };
      return { token: body.token, userId: body.userId };
    }),
  );
}

/** The pids of the service's media workers, from /healthz (which must say ok). */
export async function serverWorkerPids(baseUrl: string): Promise<number[]> {
  const res = await fetch(`${baseUrl}/healthz`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const body = (await res.json()) as { status: string; workers?: { pid: number; ok: boolean }[] };
  if (res.status !== 200 || body.status !== 'ok')
    throw new Error(`service not healthy: ${JSON.stringify(body)}`);
  return (body.workers ?? []).map((w) => w.pid).sort((a, b) => a - b);
}

/** Forces a full GC in the service (see fuzzServerEnv), then reads its used heap from /metrics. */
export async function heapAfterGc(service: { child: ChildProcess; url: string }): Promise<number> {
  service.child.kill('SIGUSR2');
  // The signal is handled between two turns of the service's event loop; give it a moment.
  await new Promise((r) => setTimeout(r, 300));
  const m = await scrapeMetrics(service.url, METRICS_TOKEN);
  const used = m.get('calling_node_nodejs_heap_size_used_bytes');
  if (used === undefined) throw new Error('/metrics has no calling_node_nodejs_heap_size_used_bytes');
  return used;
}
