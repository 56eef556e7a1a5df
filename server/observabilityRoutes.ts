/**
 * /healthz and /metrics. Anonymous callers learn only whether the node is up (`{status}`), which is
 * all a load balancer needs; node id, worker pids and state-store details, like the metrics, are for
 * operators: they need METRICS_TOKEN, or are read on the private listener (METRICS_PORT) that the
 * public network cannot reach. The token is compared in constant time.
 */
import { Router, type Request } from 'express';
import type { Registry } from 'prom-client';
import { bearerMatches } from '../auth/constantTime.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';

export interface HealthReport {
  /** 'draining': SIGTERM received, the node takes nothing new (load balancers should stop sending). */
  status: 'ok' | 'degraded' | 'draining';
  nodeId: string;
  state: { kind: string; ok: boolean };
  workers: { pid: number; ok: boolean }[];
}

export interface ObservabilityOptions {
  health: () => Promise<HealthReport>;
  metrics: Registry;
  metricsToken: string | undefined;
  /** False on the public port when a private metrics listener exists: /metrics is not served there. */
  serveMetrics: boolean;
  /** True on the private listener: without a configured token, anyone who reaches it is an operator. */
  privateListener: boolean;
}

export function observabilityRoutes(opts: ObservabilityOptions): Router {
  const router = Router();
  const isOperator = (req: Request): boolean =>
    opts.metricsToken !== undefined
      ? bearerMatches(req.headers.authorization, opts.metricsToken)
      : opts.privateListener;

  router.get('/healthz', async (req, res) => {
    const report = await opts.health();
    res.status(report.status === 'ok' ? 200 : 503);
    res.setHeader('Cache-Control', 'no-store');
    res.json(isOperator(req) ? report : { status: report.status });
  });

  if (opts.serveMetrics) {
    router.get('/metrics', async (req, res) => {
      // Without a token (development, or the private listener) the scrape is open; production refuses
      // to start on the public port without one (server/config.ts).
      if (opts.metricsToken !== undefined && !isOperator(req)) {
        throw new ServiceError(ErrorCode.Unauthorized, 'metrics token required', 401);
      }
      res.setHeader('Cache-Control', 'no-store');
      res.type(opts.metrics.contentType).send(await opts.metrics.metrics());
    });
  }
  return router;
}
