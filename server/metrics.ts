/**
 * Prometheus metrics for operators and load tests. Gauges are computed at scrape time from the
 * live objects (rooms, workers, transports), so nothing on the media path pays for them.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { RoomService } from '../rooms/roomService.js';
import type { SessionObserver } from '../signaling/signalingSession.js';
import type { WorkerPool } from '../sfu/workerPool.js';

export interface ServiceMetrics {
  registry: Registry;
  sessionObserver: SessionObserver;
  callSetups: Counter<'outcome'>;
  /** Requests refused (or contact answers withheld) by an abuse limit, by the limit's name. */
  abuseLimited: Counter<'limit'>;
  /** Signaling and media requests (or sockets) refused by a per-user or per-connection limit. */
  limitsHit: Counter<'limit'>;
}

export function createMetrics(opts: {
  rooms: RoomService;
  workers: WorkerPool;
  connections: () => number;
  /** Room sessions relayed through this node (edge) and served here for other nodes (hosted). */
  relayed?: () => { edge: number; hosted: number };
  /** Sessions whose socket dropped, kept for a resume. */
  parkedSessions?: () => number;
}): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'calling_node_' });

  const requests = new Counter({
    name: 'calling_signaling_requests_total',
    help: 'Signaling requests by method and outcome (ok, or the error code).',
    labelNames: ['method', 'outcome'] as const,
    registers: [registry],
  });
  const callSetups = new Counter({
    name: 'calling_call_setups_total',
    help: 'Calls by how their setup ended (answered, declined, busy, cancelled, missed, failed).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  const abuseLimited = new Counter({
    name: 'calling_abuse_limited_total',
    help: 'Sign-in and contact-lookup requests refused, or contact answers withheld, by limit name.',
    labelNames: ['limit'] as const,
    registers: [registry],
  });

  const limitsHit = new Counter({
    name: 'calling_limits_hit_total',
    help: 'Sockets, requests and output refused by a per-user/per-connection limit, by limit name.',
    labelNames: ['limit'] as const,
    registers: [registry],
  });

  const relayed = opts.relayed;
  if (relayed) {
    new Gauge({
      name: 'calling_relayed_room_sessions',
      help: 'Room sessions relayed between nodes: side="edge" holds the socket, side="hosted" the room.',
      labelNames: ['side'] as const,
      registers: [registry],
      collect() {
        const counts = relayed();
        this.set({ side: 'edge' }, counts.edge);
        this.set({ side: 'hosted' }, counts.hosted);
      },
    });
  }

  new Gauge({
    name: 'calling_websocket_connections',
    help: 'Open signaling WebSockets on this node.',
    registers: [registry],
    collect() {
      this.set(opts.connections());
    },
  });

  new Gauge({
    name: 'calling_parked_sessions',
    help: 'Signaling sessions whose socket dropped, kept for RESUME_GRACE_MS so the client can resume.',
    registers: [registry],
    collect() {
      this.set(opts.parkedSessions?.() ?? 0);
    },
  });

  const roomGauge = (name: string, help: string, count: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(count());
      },
    });
  };
  const participants = () => [...opts.rooms.rooms].flatMap((r) => [...r.participants]);
  roomGauge('calling_rooms', 'Rooms hosted on this node.', () => [...opts.rooms.rooms].length);
  roomGauge('calling_participants', 'Participants in rooms on this node.', () => participants().length);
  roomGauge('calling_producers', 'Media producers (published tracks).', () =>
    participants().reduce((n, p) => n + p.producerCount, 0),
  );
  roomGauge('calling_consumers', 'Media consumers (forwarded streams).', () =>
    participants().reduce((n, p) => n + p.consumerCount, 0),
  );
  roomGauge(
    'calling_warm_peers',
    'Hidden peers warming up a ringing call (back to 0 once calls are answered, declined or missed).',
    () => opts.rooms.warmPeers,
  );

  new Gauge({
    name: 'calling_worker_cpu_seconds',
    help: 'CPU time used by each mediasoup worker (user + system).',
    labelNames: ['worker'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        opts.workers.workers.map(async (w) => {
          const u = await w.worker.getResourceUsage().catch(() => null);
          if (u) this.set({ worker: String(w.index) }, (u.ru_utime + u.ru_stime) / 1000);
        }),
      );
    },
  });

  const bytes = new Gauge({
    name: 'calling_transport_bytes',
    help: 'Bytes through WebRTC transports of current participants, by direction (in, out).',
    labelNames: ['direction'] as const,
    registers: [registry],
    async collect() {
      let received = 0;
      let sent = 0;
      await Promise.all(
        participants().map(async (p) => {
          for (const s of (await p.transportStats()) as {
            bytesReceived?: number;
            bytesSent?: number;
          }[]) {
            received += s.bytesReceived ?? 0;
            sent += s.bytesSent ?? 0;
          }
        }),
      );
      bytes.set({ direction: 'in' }, received);
      bytes.set({ direction: 'out' }, sent);
    },
  });

  return {
    registry,
    callSetups,
    abuseLimited,
    limitsHit,
    sessionObserver: {
      request: (method, ok, code) => requests.inc({ method, outcome: ok ? 'ok' : (code ?? 'error') }),
    },
  };
}
