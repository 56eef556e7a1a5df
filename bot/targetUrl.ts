/** Derives what the bots need from the one URL they are given (`--url http://host:port`). */
import { BotError } from './errors.js';

export function parseTargetUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BotError('BAD_ARGUMENTS', `not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BotError('BAD_ARGUMENTS', `--url must be http:// or https://, got ${raw}`);
  }
  return url;
}

/** ws(s)://host:port/ws for an http(s) base URL. */
export function signalingUrl(base: URL): string {
  const ws = new URL('/ws', base);
  ws.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return ws.toString();
}

/**
 * Media sockets bind to loopback when the target is on loopback: the server announces
 * 127.0.0.1 then, and candidates gathered on other interfaces would only slow ICE down.
 */
export function defaultBindAddress(base: URL): string | undefined {
  const host = base.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.startsWith('127.') ? '127.0.0.1' : undefined;
}
