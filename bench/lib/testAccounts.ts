/**
 * Signs in the fictional test numbers (+12015550100..+12015550199, code 123456, see
 * docs/accounts-api.md) through the accounts HTTP API, registering them when new, so benchmarks
 * hold real device tokens. The service limits code requests per source address (30 an hour),
 * so larger sets are spread over loopback source addresses 127.0.0.1, 127.0.0.2, …
 */
import http from 'node:http';

export const TEST_CODE = '123456';
const FIRST_TEST_NUMBER = 100;
const LAST_TEST_NUMBER = 199;
const CODES_PER_ADDRESS = 30;

export interface TestAccount {
  phone: string;
  userId: string;
  accessToken: string;
}

interface Session {
  accessToken: string;
  user: { userId: string };
}

function postJson(
  baseUrl: string,
  path: string,
  body: unknown,
  localAddress: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(path, baseUrl);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          }),
        );
      },
    );
    req.once('error', reject);
    req.end(data);
  });
}

async function signIn(baseUrl: string, phone: string, localAddress: string): Promise<TestAccount> {
  const step = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await postJson(baseUrl, path, body, localAddress);
    if (res.status >= 300)
      throw new Error(`${path} for ${phone}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  await step('/api/v1/auth/code', { phone });
  const verified = await step('/api/v1/auth/verify', { phone, code: TEST_CODE, deviceLabel: 'bench' });
  const session =
    verified.status === 'signed-in'
      ? (verified.session as Session)
      : ((
          await step('/api/v1/auth/register', {
            registrationToken: verified.registrationToken,
            name: `Bench ${phone.slice(-3)}`,
            deviceLabel: 'bench',
          })
        ).session as Session);
  return { phone, userId: session.user.userId, accessToken: session.accessToken };
}

/** Signs in `count` test numbers (at most 100), 10 at a time. The service must be on loopback. */
export async function signInTestAccounts(baseUrl: string, count: number): Promise<TestAccount[]> {
  const total = LAST_TEST_NUMBER - FIRST_TEST_NUMBER + 1;
  if (count > total) throw new Error(`there are only ${total} test numbers`);
  const out: TestAccount[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = Array.from({ length: Math.min(10, count - i) }, (_, k) => i + k);
    out.push(
      ...(await Promise.all(
        batch.map((n) =>
          signIn(
            baseUrl,
            `+12015550${FIRST_TEST_NUMBER + n}`,
            `127.0.0.${1 + Math.floor(n / CODES_PER_ADDRESS)}`,
          ),
        ),
      )),
    );
  }
  return out;
}
