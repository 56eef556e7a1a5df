/**
 * How a WebSocket client hands its access token to the signaling endpoint without putting it in the
 * URL (URLs end up in proxy and access logs, browser history and Referer headers). The browser API
 * cannot set an Authorization header on a WebSocket, but it can offer subprotocols: the client offers
 * `[SIGNALING_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + jwt]`, the server reads the token during the
 * HTTP upgrade (so authentication still happens before a socket is accepted) and answers with
 * `SIGNALING_SUBPROTOCOL` only — the token is never echoed back.
 */

/** The protocol version the server selects; a client must offer it next to its token. */
export const SIGNALING_SUBPROTOCOL = 'calling.v1';
/** A JWT is base64url segments joined by dots: all legal in a subprotocol token (RFC 6455 §4.1). */
export const TOKEN_SUBPROTOCOL_PREFIX = 'calling.token.';

/** The subprotocols a client offers to authenticate with `token`. */
export function signalingProtocols(token: string): string[] {
  return [SIGNALING_SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${token}`];
}

/** The token among the offered subprotocols (a `Sec-WebSocket-Protocol` header value), if any. */
export function tokenFromProtocols(header: string | undefined): string | null {
  if (!header) return null;
  for (const raw of header.split(',')) {
    const p = raw.trim();
    if (p.startsWith(TOKEN_SUBPROTOCOL_PREFIX) && p.length > TOKEN_SUBPROTOCOL_PREFIX.length) {
      return p.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
    }
  }
  return null;
}
