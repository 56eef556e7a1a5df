/** Signs a phone in over HTTP (registering it if new), as an app does: code, verify, register. */
import { apiClient } from './httpApi.js';

export interface SignedIn {
  accessToken: string;
  refreshToken: string;
  deviceId: string;
  user: { userId: string; name: string; phone: string };
}

export async function signUp(
  baseUrl: string,
  phone: string,
  name = 'Ana',
  deviceLabel = 'laptop',
): Promise<SignedIn> {
  const api = apiClient(baseUrl);
  const code = await api('POST', '/api/v1/auth/code', { json: { phone } });
  if (code.status !== 202) throw new Error(`code: ${code.status} ${JSON.stringify(code.body)}`);
  const v = await api('POST', '/api/v1/auth/verify', { json: { phone, code: '123456', deviceLabel } });
  if (v.status !== 200) throw new Error(`verify: ${v.status} ${JSON.stringify(v.body)}`);
  if (v.body.status === 'signed-in') return v.body.session as SignedIn;
  const r = await api('POST', '/api/v1/auth/register', {
    json: { registrationToken: v.body.registrationToken, name, deviceLabel },
  });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.session as SignedIn;
}

/** Refreshes a session and reads /me with the new access token. */
export async function refreshAndReadMe(
  baseUrl: string,
  refreshToken: string,
): Promise<{ status: number; me?: { userId: string; name: string; phone: string } }> {
  const api = apiClient(baseUrl);
  const refreshed = await api('POST', '/api/v1/auth/refresh', { json: { refreshToken } });
  if (refreshed.status !== 200) return { status: refreshed.status };
  const me = await api('GET', '/api/v1/me', { token: refreshed.body.session.accessToken as string });
  return { status: me.status, me: me.body.user };
}
