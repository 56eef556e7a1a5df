/**
 * How a bot gets its access token: by signing in like a person, with a test phone number (fixed
 * code, no SMS) — the default — or, against a development server, from the dev token endpoint.
 *   BOT_AUTH=phone|dev            (default phone)
 *   BOT_PHONE_RANGE=+E164..+E164  test numbers to cycle through (default +12015550100..+12015550199)
 *   BOT_PHONE_CODE=123456         their fixed code
 * Several bots may share a number: each sign-in is another device of the same user.
 */
import { fetchDevToken } from '../client/sdk/devToken.js';
import { BotError, errorMessage, withTimeout } from './errors.js';

const TOKEN_TIMEOUT_MS = 10_000;
let nextPhone = 0;

function phoneRange(): string[] {
  const spec = process.env.BOT_PHONE_RANGE ?? '+12015550100..+12015550199';
  const m = /^\+(\d{8,15})\.\.\+(\d{8,15})$/.exec(spec.trim());
  if (!m)
    throw new BotError(
      'AUTH_FAILED',
      `BOT_PHONE_RANGE must look like +12015550100..+12015550199, got "${spec}"`,
    );
  const [from, to] = [BigInt(m[1]!), BigInt(m[2]!)];
  if (to < from || to - from > 10_000n)
    throw new BotError('AUTH_FAILED', 'BOT_PHONE_RANGE must go upwards, at most 10,000 numbers');
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(`+${n}`);
  return out;
}

async function post<T>(baseUrl: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(new URL(path, baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  if (!res.ok)
    throw new Error(
      json.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${res.status} on ${path}`,
    );
  return json;
}

async function signInWithTestPhone(baseUrl: string, displayName: string): Promise<string> {
  const phones = phoneRange();
  const phone = phones[nextPhone++ % phones.length]!;
  const code = process.env.BOT_PHONE_CODE ?? '123456';
  await post(baseUrl, '/api/v1/auth/code', { phone });
  const verified = await post<{
    status: string;
    session?: { accessToken: string };
    registrationToken?: string;
  }>(baseUrl, '/api/v1/auth/verify', { phone, code, deviceLabel: `bot ${displayName}`.slice(0, 64) });
  if (verified.status === 'signed-in' && verified.session) return verified.session.accessToken;
  const registered = await post<{ session: { accessToken: string } }>(baseUrl, '/api/v1/auth/register', {
    registrationToken: verified.registrationToken,
    name: displayName,
    deviceLabel: `bot ${displayName}`.slice(0, 64),
  });
  return registered.session.accessToken;
}

export async function getBotToken(baseUrl: string, displayName: string): Promise<string> {
  const viaDev = process.env.BOT_AUTH === 'dev';
  try {
    return await withTimeout(
      viaDev
        ? fetchDevToken(baseUrl, displayName).then((t) => t.token)
        : signInWithTestPhone(baseUrl, displayName),
      TOKEN_TIMEOUT_MS,
      'sign-in',
    );
  } catch (err) {
    throw new BotError('AUTH_FAILED', `cannot sign in ${displayName}: ${errorMessage(err)}`, { cause: err });
  }
}
