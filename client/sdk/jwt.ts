/**
 * Reads the claims of an access token (a JWT) without verifying it: the SDK only needs the user id
 * (`sub`) and the token's lifetime (`iat`, `exp`); the server verifies every token it is given.
 * Works in browsers and Node (atob and TextDecoder are global in both).
 */

export interface TokenClaims {
  sub?: string;
  iat?: number;
  exp?: number;
}

/** The token's claims, or null when it is not a readable JWT. */
export function readClaims(token: string): TokenClaims | null {
  try {
    const payload = token.split('.')[1];
    if (!payload) return null;
    const b64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const raw = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    return {
      ...(typeof raw.sub === 'string' ? { sub: raw.sub } : {}),
      ...(typeof raw.iat === 'number' ? { iat: raw.iat } : {}),
      ...(typeof raw.exp === 'number' ? { exp: raw.exp } : {}),
    };
  } catch {
    return null;
  }
}

/** The user id (`sub`) in an access token; throws when there is none. */
export function subjectOf(token: string): string {
  const sub = readClaims(token)?.sub;
  if (sub === undefined) throw new Error('the access token carries no user id');
  return sub;
}
