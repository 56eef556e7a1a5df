/** The server's error codes (docs/accounts-api.md) in plain words for people. */
import { ApiError } from '@calling/sdk';

export type ErrorContext = 'phone' | 'code' | 'register' | 'photo' | 'name' | 'devices' | 'call' | 'other';

/** "45 seconds", "2 minutes", "15 minutes". */
export function waitText(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.ceil(seconds))} second${Math.ceil(seconds) === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

export function describeError(err: unknown, context: ErrorContext = 'other'): string {
  if (!(err instanceof ApiError)) {
    const message = err instanceof Error ? err.message : String(err);
    if (context === 'call' && /Permission|NotAllowed/i.test(message))
      return 'The browser did not allow the camera and microphone.';
    return message || 'Something went wrong.';
  }
  const wait = err.retryAfterSeconds !== undefined ? waitText(err.retryAfterSeconds) : undefined;
  switch (err.code) {
    case 'INVALID_PHONE_NUMBER':
      return 'That is not a valid phone number. Check it and include the country code, e.g. +1 201 555 0100.';
    case 'CODE_INVALID':
      return err.attemptsLeft !== undefined
        ? `That code is wrong. You can try ${err.attemptsLeft} more time${err.attemptsLeft === 1 ? '' : 's'}.`
        : 'That code is wrong. Check the text message and try again.';
    case 'CODE_EXPIRED':
      return 'That code has expired or was already used. Send a new code.';
    case 'CODE_LOCKED':
      return `Too many wrong codes. This number is locked${wait ? ` for ${wait}` : ' for a while'}.`;
    case 'RATE_LIMITED':
      return `Too many attempts. Please wait${wait ? ` ${wait}` : ' a little'} and try again.`;
    case 'REGISTRATION_TOKEN_INVALID':
      return 'Your sign-up took too long. Please enter your number again.';
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'That file is not a JPEG, PNG or WebP image.';
    case 'MESSAGE_TOO_LARGE':
      return context === 'photo' || context === 'register'
        ? 'That photo is too large: the limit is 5 MB.'
        : 'That is too large for the server.';
    case 'INVALID_PARAMS':
      if (context === 'name' || context === 'register') return 'Please enter a name of 1 to 64 characters.';
      if (context === 'code') return 'The code is the 6 digits from the text message.';
      return `The server did not accept that: ${err.message}`;
    case 'REFRESH_TOKEN_INVALID':
    case 'REFRESH_TOKEN_REUSED':
    case 'UNAUTHORIZED':
    case 'NOT_SIGNED_IN':
      return 'You are signed out. Please sign in again.';
    case 'NOT_FOUND':
      return context === 'devices' ? 'That device is already signed out.' : 'Not found.';
    case 'FORBIDDEN':
      return 'You are not allowed to do that.';
    case 'NETWORK_ERROR':
      return 'Cannot reach the server. Check your connection and try again.';
    case 'TIMEOUT':
      return 'The server took too long to answer. Please try again.';
    default:
      if (err.status === 429) return `Too many attempts. Please wait${wait ? ` ${wait}` : ''} and try again.`;
      if (err.status >= 500) return 'The server had a problem. Please try again in a moment.';
      return err.message;
  }
}
