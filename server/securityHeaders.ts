/**
 * Browser hardening headers on every HTTP answer (page, static files and API alike), via helmet.
 * The CSP allows only our own files: no inline script or style, no eval, no plugins, so an injected
 * string cannot run; `frame-ancestors` decides who may frame the call UI (camera already granted),
 * `'none'` unless the deployment names the messenger origin that embeds it (FRAME_ANCESTORS).
 */
import type { RequestHandler } from 'express';
import helmet from 'helmet';

export function securityHeaders(opts: { frameAncestors: string[]; production: boolean }): RequestHandler {
  const framingForbidden = opts.frameAncestors.length === 1 && opts.frameAncestors[0] === "'none'";
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        // Profile photos are fetched with the Bearer token and shown from blob: URLs.
        imgSrc: ["'self'", 'blob:', 'data:'],
        mediaSrc: ["'self'", 'blob:', 'mediastream:'],
        // The signaling socket may move to the node that hosts a call's media (another origin, named by
        // the server at run time), so any WebSocket host is allowed: TLS-only in production. blob: lets
        // the page read back its own object URLs (photos).
        connectSrc: ["'self'", 'blob:', ...(opts.production ? ['wss:'] : ['ws:', 'wss:'])],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: opts.frameAncestors,
        ...(opts.production ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    // X-Frame-Options cannot name another origin: send DENY when nobody may frame us, else leave the
    // decision to frame-ancestors, which every browser that embeds a messenger understands.
    xFrameOptions: framingForbidden ? { action: 'deny' } : false,
    referrerPolicy: { policy: 'no-referrer' },
    xContentTypeOptions: true,
    // No cross-origin window keeps a handle on ours (tab-nabbing, XS-Leaks through window references).
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    // HSTS only where TLS is the rule; a development box on plain http must stay reachable.
    strictTransportSecurity: opts.production ? { maxAge: 31_536_000, includeSubDomains: false } : false,
  });
}
