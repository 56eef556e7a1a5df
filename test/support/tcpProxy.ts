/**
 * A TCP relay on loopback between a client and the service, for tests that need a real network
 * failure: `cut()` resets every connection through it (both ends see the socket die, as when a phone
 * changes networks), and new connections go through again afterwards. `stall()` is the quieter
 * failure: the relayed connections stay open but carry nothing any more (no FIN, no RST, as when a
 * path vanishes), which only a ping notices.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export class TcpProxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();

  private constructor(server: net.Server) {
    this.#server = server;
  }

  /** Relays 127.0.0.1:<free port> to `target` (host:port). */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = net.createServer();
    const proxy = new TcpProxy(server);
    server.on('connection', (client) => {
      const upstream = net.connect(target.port, target.host);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      proxy.#pairs.add(pair);
      const drop = (): void => {
        proxy.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      for (const s of pair) {
        s.on('error', drop);
        s.on('close', drop);
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Connections currently relayed. */
  get connections(): number {
    return this.#pairs.size;
  }

  /**
   * Relayed connections stop carrying bytes (both ways, dropped) but stay open; new connections go
   * through normally. Destroyed with `cut()` or `close()`.
   */
  stall(): void {
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      // Keep reading so nothing backs up into the peers' buffers, and drop what is read.
      for (const s of [client, upstream]) {
        s.on('data', () => undefined);
        s.resume();
      }
    }
  }

  /** Resets every relayed connection now. */
  cut(): void {
    for (const [client, upstream] of [...this.#pairs]) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
