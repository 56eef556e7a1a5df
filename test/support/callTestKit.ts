/** Signs people in with test phone numbers and opens signaling sockets for them (one per device). */
import type { CallView, NotificationEnvelope } from '../../protocol/signaling.js';
import { signInAccount } from './accountSignIn.js';
import { RawSignaling } from './rawSignaling.js';

export interface TestUser {
  userId: string;
  name: string;
  phone: string;
  /** Signs in another device and opens its signaling socket. */
  device(label?: string): Promise<RawSignaling>;
}

export async function signUp(baseUrl: string, phone: string, name: string): Promise<TestUser> {
  const signIn = async (label: string) => (await signInAccount(baseUrl, phone, name, label)).session!;
  const first = await signIn('setup');
  return {
    userId: first.user.userId,
    name,
    phone,
    device: async (label = 'device') => RawSignaling.open(baseUrl, (await signIn(label)).accessToken),
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
