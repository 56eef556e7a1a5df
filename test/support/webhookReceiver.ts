/** A webhook endpoint on loopback that checks signatures and keeps what it received. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signWebhookBody, type WebhookEvent } from '../../calls/webhooks.js';

export async function startWebhookReceiver(secret: string): Promise<{
  url: string;
  events: WebhookEvent[];
  badSignatures: number;
  waitFor(pred: (e: WebhookEvent) => boolean, timeoutMs?: number): Promise<WebhookEvent>;
  close(): Promise<void>;
}> {
  const events: WebhookEvent[] = [];
  const waiters: { pred: (e: WebhookEvent) => boolean; resolve: (e: WebhookEvent) => void }[] = [];
  const state = { badSignatures: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.headers['x-calling-signature'] !== signWebhookBody(secret, body)) {
        state.badSignatures++;
        res.writeHead(401).end();
        return;
      }
      const event = JSON.parse(body) as WebhookEvent;
      events.push(event);
      for (const w of [...waiters]) {
        if (w.pred(event)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    events,
    get badSignatures() {
      return state.badSignatures;
    },
    waitFor(pred, timeoutMs = 10_000) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('webhook not received')), timeoutMs);
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(t);
            resolve(e);
          },
        });
      });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
