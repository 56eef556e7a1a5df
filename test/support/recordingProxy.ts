/**
 * A tiny HTTP + WebSocket pass-through proxy that records every upgrade request line and its
 * offered subprotocols: how a test sees, from the server side of the wire, what URL a client really
 * requested (e.g. that an access token never appears in it), whatever the client's own code claims.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RecordedUpgrade {
  /** The request target exactly as the client sent it (path and query). */
  url: string;
  /** The offered `Sec-WebSocket-Protocol` value, if any. */
  protocols: string | undefined;
}

export interface RecordingProxy {
  url: string;
  upgrades: RecordedUpgrade[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const { hostname, port } = new URL(target);
  const upgrades: RecordedUpgrade[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      { host: hostname, port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    upgrades.push({ url: req.url ?? '', protocols: req.headers['sec-websocket-protocol'] });
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', () => sockets.delete(client));
    upstream.on('error', drop).on('close', () => sockets.delete(upstream));
    upstream.once('connect', () => {
      // Re-send the request as received (rawHeaders keeps names, order and repeats).
      let headText = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        headText += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      }
      upstream.write(`${headText}\r\n`);
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    upgrades,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
