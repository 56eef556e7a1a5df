/**
 * Signs test phone numbers in the way an app does: through the SDK's AccountClient (code, verify,
 * and registration for a new number), so tests exercise the real client and never retype the wire
 * format. Test numbers get the fixed code below and no SMS (see accounts/).
 */
import { AccountClient } from '../../client/sdk/accountClient.js';

export const TEST_CODE = '123456';

/** A signed-in AccountClient for `phone` (registered as `name` if new), as one device labelled `deviceLabel`. */
export async function signInAccount(
  baseUrl: string,
  phone: string,
  name: string,
  deviceLabel = 'test device',
): Promise<AccountClient> {
  // No refresh timer: a test signs in many devices and ends long before a token expires.
  const account = new AccountClient({ baseUrl, deviceLabel, autoRefresh: false });
  const { phone: normalized } = await account.requestCode(phone);
  const verified = await account.verify(normalized, TEST_CODE);
  if (verified.status === 'registration-required') await account.register(verified.registrationToken, name);
  if (!account.session) throw new Error(`signing in ${phone} left no session`);
  return account;
}
