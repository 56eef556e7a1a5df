/**
 * One HTTP exchange with the accounts API: headers, Bearer token, timeout, and failures that never
 * got an answer turned into typed ApiErrors; answers typed by the shared schemas (protocol/accounts.ts).
 */
import type { AccountResponse } from '../../protocol/accounts.js';
import { ApiError } from './apiError.js';

export interface SendOptions {
  body?: BodyInit;
  contentType?: string;
  token?: string;
  /** Extra request headers (e.g. the cookie-transport opt-in, SESSION_MODE_HEADER). */
  headers?: Record<string, string>;
  timeoutMs?: number;
  cache?: RequestCache;
}

export async function sendRequest(
  fetchFn: typeof fetch,
  url: URL,
  method: string,
  opts: SendOptions & { timeoutMs: number },
): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers, accept: 'application/json' };
  if (opts.contentType) headers['content-type'] = opts.contentType;
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  try {
    return await fetchFn(url, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      ...(opts.cache ? { cache: opts.cache } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    const name = (err as { name?: string }).name;
    const what = `${method} ${url.pathname}`;
    if (name === 'TimeoutError' || name === 'AbortError')
      throw new ApiError(0, 'TIMEOUT', `${what}: no answer in time`);
    throw new ApiError(0, 'NETWORK_ERROR', `${what}: cannot reach the server`, {
      details: { cause: String(err) },
    });
  }
}

/** The answer's JSON, typed by the shared schema of the answer to that request. */
export async function readJson<K extends keyof AccountResponse>(res: Response): Promise<AccountResponse[K]> {
  try {
    return (await res.json()) as AccountResponse[K];
  } catch {
    throw new ApiError(res.status, 'BAD_RESPONSE', `expected JSON from the server (HTTP ${res.status})`);
  }
}
