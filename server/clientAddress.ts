/**
 * The client's address for per-address limits, for code that sees a raw request (the WebSocket
 * upgrade) rather than express's `req.ip`. Same rule as express's `trust proxy` (set from the same
 * TRUST_PROXY value in server/httpApp.ts): X-Forwarded-For is believed only as far back as the hops
 * or addresses we trust, so a client cannot name itself someone else.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';
import type { TrustProxy } from './config.js';

export type ClientAddressOf = (req: IncomingMessage) => string;

export function clientAddressResolver(trust: TrustProxy): ClientAddressOf {
  const trusts: (address: string, hop: number) => boolean =
    trust === false
      ? () => false
      : typeof trust === 'number'
        ? (_address, hop) => hop < trust
        : proxyAddr.compile(trust);
  return (req) => proxyAddr(req, trusts) || req.socket.remoteAddress || 'unknown';
}
