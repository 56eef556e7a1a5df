/** Signs people in with test phone numbers and opens signaling sockets for them (one per device). */
import type { CallView, NotificationEnvelope } from '../../protocol/signaling.js';
import { apiClient } from './httpApi.js';
import { RawSignaling } from './rawSignaling.js';

export interface TestUser {
  userId: string;
  name: string;
  phone: string;
  /** Signs in another device and opens its signaling socket. */
  device(label?: string): Promise<RawSignaling>;
}

export async function signUp(baseUrl: string, phone: string, name: string): Promise<TestUser> {
  const api = apiClient(baseUrl);
  const signIn = async (label: string) => {
    await api('POST', '/api/v1/auth/code', { json: { phone } });
    const v = await api('POST', '/api/v1/auth/verify', {
      json: { phone, code: '123456', deviceLabel: label },
    });
    if (v.body.status === 'signed-in') return v.body.session;
    const r = await api('POST', '/api/v1/auth/register', {
      json: { registrationToken: v.body.registrationToken, name, deviceLabel: label },
    });
    if (r.status !== 201) throw new Error(`register failed: ${JSON.stringify(r.body)}`);
    return r.body.session;
  };
  const first = await signIn('setup');
  return {
    userId: first.user.userId as string,
    name,
    phone,
    device: async (label = 'device') =>
      RawSignaling.open(baseUrl, (await signIn(label)).accessToken as string),
  };
}

export function callOf(frame: NotificationEnvelope): CallView {
  return (frame.data as { call: CallView }).call;
}

/** Waits for a callUpdated whose call matches `predicate`. */
export async function waitForCall(ws: RawSignaling, predicate: (c: CallView) => boolean): Promise<CallView> {
  const frame = await ws.waitFor(
    (f) => 'notification' in f && f.notification === 'callUpdated' && predicate(callOf(f)),
  );
  return callOf(frame as NotificationEnvelope);
}
