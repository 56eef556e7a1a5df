/**
 * API_KEYS parsing and checking (auth/apiKeys.ts) through loadConfig: bad entries fail start-up with a
 * message that names the entry but never its secret, secrets never show when the config is printed,
 * and a presented key is recognised only whole.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.js';

const SECRET = 'a-secret-that-is-long-enough-0123456789';

function configError(apiKeys: string): string {
  try {
    loadConfig({ API_KEYS: apiKeys });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`API_KEYS=${apiKeys} was accepted`);
}

describe('API_KEYS', () => {
  it('refuses malformed entries at start-up without echoing a secret', () => {
    expect(configError('no-colon-here')).toContain('API_KEYS: entry 1');
    expect(configError(`bad id!:${SECRET}`)).toContain('entry 1');
    const short = configError(`good:${SECRET}, weak:short-secret-9`);
    expect(short).toContain('entry 2 (key "weak")');
    expect(short).not.toContain('short-secret-9');
    const twice = configError(`k:${SECRET},k:${SECRET}`);
    expect(twice).toContain('listed twice');
    expect(twice).not.toContain(SECRET);
  });

  it('keeps secrets out of a printed or serialised config', () => {
    const config = loadConfig({ API_KEYS: `alpha:${SECRET}, beta:${SECRET}-b` });
    expect(config.apiKeys.ids).toEqual(['alpha', 'beta']);
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(inspect(config, { depth: 10 })).not.toContain(SECRET);
    expect(loadConfig({}).apiKeys.size).toBe(0);
  });

  it('recognises only a whole id:secret pair, and both secrets of a key being rotated', () => {
    const keys = loadConfig({ API_KEYS: `alpha:${SECRET},alpha:${SECRET}-next,beta:${SECRET}-b` }).apiKeys;
    expect(keys.verify(`Bearer alpha:${SECRET}`)).toBe('alpha');
    expect(keys.verify(`Bearer alpha:${SECRET}-next`)).toBe('alpha');
    expect(keys.verify(`Bearer beta:${SECRET}-b`)).toBe('beta');
    for (const wrong of [
      undefined,
      '',
      'Bearer ',
      `alpha:${SECRET}`,
      `Bearer alpha:${SECRET}x`,
      `Bearer beta:${SECRET}`,
      `Bearer alpha`,
      `Bearer ${SECRET}`,
      `Bearer alpha:${SECRET} extra`,
    ])
      expect(keys.verify(wrong), String(wrong)).toBeNull();
  });
});
