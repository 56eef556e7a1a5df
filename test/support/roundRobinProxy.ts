/**
 * "One address" for tests of several nodes: a TCP load balancer on loopback that hands each new
 * connection to the next node in turn, as a round-robin balancer in front of a deployment would.
 * It records which node each connection went to, so a test knows where its sockets landed.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export class RoundRobinProxy {
  readonly #server: net.Server;
  readonly #targets: number[];
  readonly #sockets = new Set<net.Socket>();
  /** The target port of every connection accepted so far, in order. */
  readonly routed: number[] = [];
  #next = 0;

  private constructor(server: net.Server, targets: number[]) {
    this.#server = server;
    this.#targets = targets;
  }

  /** Balances 127.0.0.1:<free port> over the given loopback ports. */
  static async start(targetPorts: number[]): Promise<RoundRobinProxy> {
    if (targetPorts.length === 0) throw new Error('no targets');
    const server = net.createServer();
    const proxy = new RoundRobinProxy(server, targetPorts);
    server.on('connection', (client) => proxy.#route(client));
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Sends the next connections to these ports instead (e.g. without a node that was killed). */
  setTargets(ports: number[]): void {
    if (ports.length === 0) throw new Error('no targets');
    this.#targets.splice(0, this.#targets.length, ...ports);
    this.#next = 0;
  }

  #route(client: net.Socket): void {
    const port = this.#targets[this.#next++ % this.#targets.length]!;
    this.routed.push(port);
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
