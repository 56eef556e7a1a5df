/**
 * "One address" for tests with several nodes: a TCP load balancer on loopback that sends each new
 * connection to the next node in turn, skipping a node that refuses (killed, or draining with its
 * listener closed), as a real load balancer's health checks would. Upstreams can be changed while
 * it runs (a node restarted on a new port). It records which node each connection went to, so a test
 * knows where its sockets landed.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export class RoundRobinProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #upstreams: number[];
  /** The node port of every connection accepted so far, in order. */
  readonly routed: number[] = [];
  #next = 0;

  private constructor(server: net.Server, upstreams: number[]) {
    this.#server = server;
    this.#upstreams = upstreams;
  }

  static async start(upstreamPorts: number[]): Promise<RoundRobinProxy> {
    const server = net.createServer();
    const proxy = new RoundRobinProxy(server, [...upstreamPorts]);
    server.on('connection', (client) => proxy.#relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  setUpstreams(ports: number[]): void {
    this.#upstreams = [...ports];
  }

  #relay(client: net.Socket): void {
    this.#sockets.add(client);
    client.on('close', () => this.#sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const tryNext = (attemptsLeft: number): void => {
      if (attemptsLeft === 0 || client.destroyed) return void client.destroy();
      const port = this.#upstreams[this.#next++ % this.#upstreams.length]!;
      const upstream = net.connect(port, '127.0.0.1');
      let connected = false;
      upstream.once('error', () => {
        upstream.destroy();
        // Refused before it connected: the next node gets the connection.
        if (!connected) tryNext(attemptsLeft - 1);
      });
      upstream.once('connect', () => {
        connected = true;
        this.routed.push(port);
        this.#sockets.add(upstream);
        upstream.on('close', () => {
          this.#sockets.delete(upstream);
          client.destroy();
        });
        upstream.on('error', () => upstream.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    tryNext(this.#upstreams.length);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
