/**
 * How one-time codes reach a phone. The HTTP sender posts to an SMS gateway; the console sender
 * prints codes and exists for local development only (config refuses it in production).
 */
import type { Logger } from '../lib/logger.js';

export interface SmsSender {
  send(to: string, text: string): Promise<void>;
}

export class SmsDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmsDeliveryError';
  }
}

export class HttpSmsSender implements SmsSender {
  readonly #url: string;
  readonly #token: string | undefined;

  constructor(url: string, token?: string) {
    this.#url = url;
    this.#token = token;
  }

  async send(to: string, text: string): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
        },
        body: JSON.stringify({ to, text }),
        signal: AbortSignal.timeout(5000),
      });
    } catch (err) {
      throw new SmsDeliveryError(`SMS gateway unreachable: ${(err as Error).message}`);
    }
    if (!res.ok) throw new SmsDeliveryError(`SMS gateway answered ${res.status}`);
  }
}

/** Development only: writes the message (with its code) to the log. */
export class ConsoleSmsSender implements SmsSender {
  readonly #log: Logger;
  constructor(log: Logger) {
    this.#log = log;
  }
  async send(to: string, text: string): Promise<void> {
    this.#log.info('development SMS (not sent)', { to, text });
  }
}

/** Used when neither a gateway nor development mode is configured (e.g. tests): refuses to send. */
export class DisabledSmsSender implements SmsSender {
  async send(): Promise<void> {
    throw new SmsDeliveryError('no SMS gateway configured (set SMS_GATEWAY_URL)');
  }
}
