/** Minimal HTTP helper for API tests: JSON in, status + parsed JSON (or bytes) out. */
export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  bytes: Buffer;
}

export function apiClient(baseUrl: string) {
  return async function call<T = Record<string, any>>( // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience: bodies are asserted field by field
    method: string,
    path: string,
    opts: {
      json?: unknown;
      raw?: Buffer | string;
      contentType?: string;
      token?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | Blob | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.raw !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
      body = typeof opts.raw === 'string' ? opts.raw : new Blob([new Uint8Array(opts.raw)]);
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const bytes = Buffer.from(await res.arrayBuffer());
    let parsed: unknown = {};
    if ((res.headers.get('content-type') ?? '').includes('json') && bytes.length > 0)
      parsed = JSON.parse(bytes.toString('utf8'));
    return { status: res.status, headers: res.headers, body: parsed as T, bytes };
  };
}
