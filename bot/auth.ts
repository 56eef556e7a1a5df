/**
 * How a bot gets its access token. Today: the development token endpoint. This is the one
 * place to change when bots switch to signing in with test phone numbers.
 */
import { fetchDevToken } from '../client/sdk/devToken.js';
import { BotError, errorMessage, withTimeout } from './errors.js';

const TOKEN_TIMEOUT_MS = 10_000;

export async function getBotToken(baseUrl: string, displayName: string): Promise<string> {
  try {
    const { token } = await withTimeout(
      fetchDevToken(baseUrl, displayName),
      TOKEN_TIMEOUT_MS,
      'token request',
    );
    return token;
  } catch (err) {
    throw new BotError('AUTH_FAILED', `cannot get a token for ${displayName}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}
