/**
 * API keys of embedding messengers' backends (config `API_KEYS`): which key, if any, a server-to-server
 * request presents. A key is an id (public: it names the key in logs and namespaces the external ids
 * created with it) and a secret (never logged, never echoed in an error, compared in constant time).
 * The same id may be listed with two secrets while a secret is rotated.
 */
import { secretsEqual } from './constantTime.js';

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const MIN_SECRET_LENGTH = 32;

/** Thrown by parseApiKeys; the message names the entry and the id, never the secret. */
export class ApiKeysConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiKeysConfigError';
  }
}

/**
 * The configured keys. Secrets sit in a private field, so printing or serialising the config (or this
 * object) shows the ids only.
 */
export class ApiKeyRing {
  readonly #keys: readonly { id: string; pair: string }[];

  constructor(keys: readonly { id: string; secret: string }[]) {
    this.#keys = keys.map((k) => ({ id: k.id, pair: `${k.id}:${k.secret}` }));
  }

  /** The distinct key ids, for the start-up log. */
  get ids(): string[] {
    return [...new Set(this.#keys.map((k) => k.id))];
  }

  get size(): number {
    return this.#keys.length;
  }

  /**
   * The key id an `Authorization: Bearer <keyId>:<secret>` header proves, or null. Every configured
   * key is compared, whatever matched first, so the time taken tells nothing about which ids exist.
   */
  verify(authorization: string | undefined): string | null {
    const presented = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1] ?? '';
    let found: string | null = null;
    for (const k of this.#keys) {
      if (secretsEqual(presented, k.pair) && presented.length > 0) found ??= k.id;
    }
    return found;
  }

  toJSON(): { ids: string[] } {
    return { ids: this.ids };
  }
}

/** `id:secret` entries, comma-separated (whitespace around entries ignored). Empty: no keys. */
export function parseApiKeys(raw: string | undefined): ApiKeyRing {
  const entries = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const keys: { id: string; secret: string }[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const secret = colon > 0 ? entry.slice(colon + 1) : '';
    const where = `entry ${i + 1}`;
    if (!KEY_ID.test(id)) {
      throw new ApiKeysConfigError(
        `${where}: must be <id>:<secret> with an id of 1-32 letters, digits, _ or -`,
      );
    }
    if (secret.length < MIN_SECRET_LENGTH || /\s/.test(secret)) {
      throw new ApiKeysConfigError(
        `${where} (key "${id}"): the secret must be at least ${MIN_SECRET_LENGTH} characters without spaces`,
      );
    }
    if (seen.has(entry)) throw new ApiKeysConfigError(`${where} (key "${id}"): listed twice`);
    seen.add(entry);
    keys.push({ id, secret });
  });
  return new ApiKeyRing(keys);
}
