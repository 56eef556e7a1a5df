/**
 * GET /api/v1/client-config: what the web page needs to know about this server before anyone signs
 * in — today whether it issues development tokens (the page then offers joining a room with just a
 * name). The page used to probe POST /api/v1/dev/token and read its 400, a request known to fail.
 */
import { Router } from 'express';

export interface ClientConfig {
  devTokens: boolean;
}

export function clientConfigRoutes(config: ClientConfig): Router {
  const router = Router();
  router.get('/client-config', (_req, res) => {
    res.json(config satisfies ClientConfig);
  });
  return router;
}
