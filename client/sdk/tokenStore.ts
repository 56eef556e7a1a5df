/**
 * Where an AccountClient keeps its session (access and refresh token, device, user) between page
 * loads. Browsers use localStorage, shared by the tabs of one origin; Node (bots, tests) keeps it in
 * memory. The refresh token rotates on every refresh and presenting an old one revokes the device,
 * so tabs sharing one stored session must never refresh in parallel: `withLock` serialises them.
 */
import type { Session } from '../../protocol/accounts.js';

/** A session as stored: the server's Session plus its access-token expiry on this machine's clock. */
export interface StoredSession extends Session {
  /** Epoch ms (local clock) when the access token expires; immune to a skewed local clock. */
  accessTokenLocalExpiresAt: number;
  /** Epoch ms (local clock) from when the access token should be refreshed. */
  accessTokenRefreshAt: number;
}

export interface TokenStore {
  load(): StoredSession | null | Promise<StoredSession | null>;
  /** `null` forgets the session (signed out, revoked). */
  save(session: StoredSession | null): void | Promise<void>;
  /** Runs `fn` while holding a lock shared with every other user of the same storage (other tabs). */
  withLock?<T>(fn: () => Promise<T>): Promise<T>;
  /** Calls `listener` when someone else (another tab) changes the stored session. */
  subscribe?(listener: (session: StoredSession | null) => void): () => void;
}

/** Keeps the session in this process only (Node, bots, tests). */
export class MemoryTokenStore implements TokenStore {
  #session: StoredSession | null;

  constructor(initial: StoredSession | null = null) {
    this.#session = initial;
  }

  load(): StoredSession | null {
    return this.#session;
  }

  save(session: StoredSession | null): void {
    this.#session = session;
  }
}

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/**
 * Keeps the session in `localStorage` under one key. Refreshes from several tabs are serialised with
 * the Web Locks API (every current browser has it); the `storage` event tells a tab when another
 * one rotated the tokens or signed out.
 */
export class LocalStorageTokenStore implements TokenStore {
  readonly #key: string;
  readonly #storage: Storage;

  constructor(key = 'calling.session', storage: Storage = globalThis.localStorage) {
    this.#key = key;
    this.#storage = storage;
  }

  load(): StoredSession | null {
    const raw = this.#storage.getItem(this.#key);
    return raw ? parseStored(raw) : null;
  }

  save(session: StoredSession | null): void {
    if (session) this.#storage.setItem(this.#key, JSON.stringify(session));
    else this.#storage.removeItem(this.#key);
  }

  withLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks;
    // Without Web Locks (very old browsers, insecure origins) a tab can only serialise itself.
    return locks ? locks.request(`${this.#key}.refresh`, fn) : fn();
  }

  subscribe(listener: (session: StoredSession | null) => void): () => void {
    const onStorage = (ev: StorageEvent): void => {
      if (ev.storageArea !== this.#storage) return;
      if (ev.key === this.#key) listener(ev.newValue ? parseStored(ev.newValue) : null);
      else if (ev.key === null) listener(null); // storage.clear()
    };
    globalThis.addEventListener('storage', onStorage);
    return () => globalThis.removeEventListener('storage', onStorage);
  }
}

function parseStored(raw: string): StoredSession | null {
  try {
    const s = JSON.parse(raw) as Partial<StoredSession>;
    if (
      typeof s.accessToken === 'string' &&
      typeof s.refreshToken === 'string' &&
      typeof s.accessTokenLocalExpiresAt === 'number' &&
      typeof s.accessTokenRefreshAt === 'number' &&
      typeof s.user === 'object' &&
      s.user !== null
    )
      return s as StoredSession;
  } catch {
    // fall through: a corrupt entry is the same as none
  }
  return null;
}
