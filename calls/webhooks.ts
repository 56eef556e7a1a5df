/**
 * Call events for an operator's backend (e.g. a push service that wakes a phone). Each POST is
 * signed with HMAC-SHA256 of the exact body (header X-Calling-Signature: sha256=<hex>), retried
 * with exponential backoff, and never awaited by the call path.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from '../lib/logger.js';

export type WebhookEventType =
  'call.started' | 'call.ringing' | 'call.answered' | 'call.ended' | 'call.missed';

export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  createdAt: number;
  data: Record<string, unknown>;
}

export interface WebhookSink {
  emit(type: WebhookEventType, data: Record<string, unknown>): void;
  /** Waits for deliveries in flight (used by tests). */
  drain(): Promise<void>;
  /** Stops retrying and waits for the attempts in flight (shutdown). */
  close(): Promise<void>;
}

export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class HttpWebhookSink implements WebhookSink {
  readonly #url: string;
  readonly #secret: string;
  readonly #log: Logger;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(opts: { url: string; secret: string; log: Logger; attempts?: number; baseDelayMs?: number }) {
    this.#url = opts.url;
    this.#secret = opts.secret;
    this.#log = opts.log;
    this.#attempts = opts.attempts ?? 5;
    this.#baseDelayMs = opts.baseDelayMs ?? 500;
  }

  emit(type: WebhookEventType, data: Record<string, unknown>): void {
    if (this.#closed) return;
    const event: WebhookEvent = { id: randomUUID(), type, createdAt: Date.now(), data };
    const p = this.#deliver(event).finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  async #deliver(event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    const signature = signWebhookBody(this.#secret, body);
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      try {
        const res = await fetch(this.#url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-calling-signature': signature,
            'x-calling-event': event.type,
          },
          body,
          signal: AbortSignal.timeout(5000),
        });
        if (res.ok) return;
        // 4xx other than 429 will not get better by retrying.
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          this.#log.warn('webhook rejected', { type: event.type, status: res.status });
          return;
        }
      } catch {
        // network error: retried below
      }
      if (attempt < this.#attempts && !this.#closed) {
        await new Promise((r) => setTimeout(r, this.#baseDelayMs * 2 ** (attempt - 1)).unref());
      }
    }
    this.#log.warn('webhook delivery gave up', { type: event.type, id: event.id });
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.drain();
  }
}

export class NoWebhooks implements WebhookSink {
  emit(): void {}
  async drain(): Promise<void> {}
  async close(): Promise<void> {}
}
