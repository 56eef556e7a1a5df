/** Fetches a token from the development endpoint (enabled only outside production). */
export async function fetchDevToken(
  baseUrl: string,
  displayName: string,
): Promise<{ token: string; userId: string; displayName: string; expiresAt: number }> {
  const res = await fetch(new URL('/api/v1/dev/token', baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ displayName }),
  });
  const body = (await res.json()) as {
    token: string;
    userId: string;
    displayName: string;
    expiresAt: number;
    error?: { code: string; message: string };
  };
  if (!res.ok)
    throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
  return body;
}
