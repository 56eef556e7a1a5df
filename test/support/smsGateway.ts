/** A stand-in SMS gateway on loopback that records what it is asked to send (codes are read from it). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SmsGateway {
  url: string;
  messages: { to: string; text: string }[];
  /** The 6-digit code in the latest message to `phone`, if any. */
  lastCode(phone: string): string | undefined;
  close(): Promise<void>;
}

export async function startSmsGateway(): Promise<SmsGateway> {
  const messages: { to: string; text: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      messages.push(JSON.parse(body) as { to: string; text: string });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
    messages,
    lastCode: (phone) => /\b(\d{6})\b/.exec(messages.filter((m) => m.to === phone).at(-1)?.text ?? '')?.[1],
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
