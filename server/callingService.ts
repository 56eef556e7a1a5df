/**
 * Wires the service together: state store, media workers, rooms, signaling and HTTP on one port.
 * `close()` takes everything down in reverse order so tests and SIGTERM leave nothing behind.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessTokens } from '../auth/accessTokens.js';
import { RoomService } from '../rooms/roomService.js';
import { LocalRoomGateway } from '../rooms/roomGateway.js';
import { AnyNodeRoomGateway } from '../rooms/relay/anyNodeRoomGateway.js';
import { RoomRelay } from '../rooms/relay/roomRelay.js';
import { SignalingServer } from '../signaling/signalingServer.js';
import { turnCredentials } from '../auth/turnCredentials.js';
import { WorkerPool } from '../sfu/workerPool.js';
import { hkdfSync, randomUUID } from 'node:crypto';
import { RoomInvites } from '../auth/roomInvites.js';
import { AccountService } from '../accounts/accountService.js';
import { DeviceSessions } from '../accounts/deviceSessions.js';
import { OneTimeCodes } from '../accounts/oneTimeCodes.js';
import { RateLimits } from '../accounts/rateLimits.js';
import { BlockList } from '../accounts/blockList.js';
import { ConsoleSmsSender, DisabledSmsSender, HttpSmsSender, type SmsSender } from '../accounts/smsSender.js';
import { createStateStores, type StateStores } from '../state/createStateStores.js';
import type { RoomStateStore } from '../state/roomStateStore.js';
import { describeTarget } from '../state/sql/openDatabase.js';
import { exposedDevelopmentFeatures, type Config } from './config.js';
import { ExternalAccounts } from '../accounts/externalAccounts.js';
import { createHttpApp, createMetricsApp, type HealthReport } from './httpApp.js';
import { createMetrics } from './metrics.js';
import { clientAddressResolver } from './clientAddress.js';
import { CallService, callRoomName } from '../calls/callService.js';
import { HttpWebhookSink, NoWebhooks } from '../calls/webhooks.js';
import { CallSweeper } from '../calls/callSweeper.js';
import { LocalLease, RedisLease } from '../state/lease.js';
import type { Logger } from '../lib/logger.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';

function smsSender(config: Config, log: Logger): SmsSender {
  if (config.sms.gatewayUrl) return new HttpSmsSender(config.sms.gatewayUrl, config.sms.gatewayToken);
  // Printing codes is acceptable only in explicit development mode.
  if (config.env === 'development') return new ConsoleSmsSender(log);
  return new DisabledSmsSender();
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/client when running from source or from dist/server alike. */
export const DEFAULT_CLIENT_DIR = path.resolve(
  here,
  here.includes(`${path.sep}dist${path.sep}`) ? '../client' : '../dist/client',
);

export interface CallingService {
  readonly url: string;
  readonly port: number;
  /** The private metrics listener's base URL when METRICS_PORT is set. */
  readonly metricsUrl: string | undefined;
  readonly store: RoomStateStore;
  readonly stores: StateStores;
  readonly accounts: AccountService;
  readonly calls: CallService;
  readonly workers: WorkerPool;
  readonly rooms: RoomService;
  /** Sessions relayed to and from other nodes. */
  readonly relay: RoomRelay;
  readonly tokens: AccessTokens;
  readonly signaling: SignalingServer;
  health(): Promise<HealthReport>;
  /**
   * SIGTERM's first step: take no new sockets or rooms, leave the node list (others may take the
   * rooms over at once), tell every client to move (close 4012), and wait up to `timeoutMs` for the
   * rooms to empty. Call timers are handed over by `close()`: it stops them and gives up the call
   * sweeper's lease, so a live node's sweeper applies whatever falls due from then on.
   */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCallingService(
  config: Config,
  log: Logger,
  opts: { stateKeyPrefix?: string; clientDir?: string } = {},
): Promise<CallingService> {
  const stores = await createStateStores({
    redis: config.redis,
    ttlSeconds: config.stateTtlSeconds,
    nodeDeadAfterMs: config.liveness.nodeDeadAfterMs,
    keyPrefix: opts.stateKeyPrefix,
    log,
    database: config.database,
  });
  const store = stores.rooms;
  const cleanup: (() => Promise<void> | void)[] = [() => stores.close()];
  const unwind = async (): Promise<void> => {
    for (const step of cleanup.reverse()) await step();
  };
  try {
    await stores.ping();
    log.info(
      store.kind === 'redis'
        ? `state store: redis (${config.redis?.kind ?? 'url'})`
        : 'state store: embedded (single node, in memory)',
    );
    log.info(`accounts and history: ${describeTarget(config.database)}`);

    const workers = await WorkerPool.create(
      {
        numWorkers: config.mediasoup.numWorkers,
        workerBin: config.mediasoup.workerBin,
        logLevel: config.mediasoup.logLevel,
        logTags: config.mediasoup.logTags,
        listenIp: config.mediasoup.listenIp,
        announcedAddress: config.mediasoup.announcedAddress,
        portBase: config.mediasoup.portBase,
        socketBufferBytes: config.mediasoup.socketBufferBytes,
      },
      log,
    );
    cleanup.push(() => workers.close());

    const tokens = new AccessTokens(config.jwt);
    // One set of budgets for sign-in, contacts and call invitations, shared by all nodes via Redis.
    const limits = new RateLimits({
      redis: stores.counters,
      keys: stores.keys,
      config: config.abuse,
      // `metrics` is created below; refusals happen only once requests flow, after start-up.
      onLimited: (limit) => metrics.abuseLimited.inc({ limit }),
    });
    const blocks = new BlockList({ store: stores.accounts });
    const deviceSessions = new DeviceSessions({
      store: stores.accounts,
      tokens,
      refreshTtlSeconds: config.refreshTokenTtlSeconds,
      sealKey: Buffer.from(hkdfSync('sha256', config.jwt.secret, 'calling-service', 'refresh-replay', 32)),
      // Close the revoked device's sockets on whichever node holds them.
      onRevoked: (userId, deviceId) => {
        stores.bus
          .publish(userId, { notification: 'deviceRevoked', data: {}, onlyDeviceId: deviceId })
          .catch(() => undefined);
      },
    });
    const accounts = new AccountService({
      store: stores.accounts,
      verification: stores.verification,
      codes: new OneTimeCodes({
        store: stores.verification,
        // A key of its own, derived from the JWT secret, so a leaked code hash says nothing about tokens.
        hmacKey: Buffer.from(hkdfSync('sha256', config.jwt.secret, 'calling-service', 'one-time-codes', 32)),
        testNumbers: config.testPhoneNumbers,
      }),
      devices: deviceSessions,
      limits,
      sms: smsSender(config, log),
      log,
    });
    const external = new ExternalAccounts({
      store: stores.accounts,
      devices: deviceSessions,
      tokens,
      limits,
      log,
    });
    if (config.apiKeys.size > 0) log.info('server api keys configured', { apiKeyIds: config.apiKeys.ids });
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

    // A new incarnation on every start: whatever an earlier process of this node id left is dead.
    const incarnation = randomUUID();
    const rooms = await RoomService.create({
      node: { nodeId: config.nodeId, incarnation, address: url, startedAt: Date.now() },
      store,
      workers,
      log,
      heartbeatIntervalMs: config.liveness.heartbeatIntervalMs,
      limits: config.limits,
      // A key of its own, so an invite says nothing about access tokens and cannot be replayed as one.
      invites: new RoomInvites({
        key: Buffer.from(hkdfSync('sha256', config.jwt.secret, 'calling-service', 'room-invites', 32)),
      }),
      inviteTtlSeconds: config.rooms.inviteTtlSeconds,
      membershipTtlSeconds: config.rooms.membershipTtlSeconds,
    });
    cleanup.push(() => rooms.close());

    // Any node serves any room: a session whose room another node hosts is relayed there.
    const local = new LocalRoomGateway(rooms);
    const relay = await RoomRelay.start({
      nodeId: config.nodeId,
      bus: stores.relay,
      local,
      log,
      requestTimeoutMs: config.relay.requestTimeoutMs,
      checkIntervalMs: config.relay.checkIntervalMs,
    });
    cleanup.push(() => relay.close());

    let draining = false;
    const health = async (): Promise<HealthReport> => {
      const stateOk = await stores.ping().then(
        () => true,
        () => false,
      );
      const workerReports = workers.workers.map((w) => ({
        pid: w.worker.pid,
        ok: !w.worker.closed && !w.worker.died,
      }));
      const workersOk =
        workerReports.length === config.mediasoup.numWorkers && workerReports.every((w) => w.ok);
      return {
        status: draining ? 'draining' : stateOk && workersOk ? 'ok' : 'degraded',
        nodeId: config.nodeId,
        state: { kind: store.kind, ok: stateOk },
        workers: workerReports,
      };
    };

    const webhooks = config.webhook
      ? new HttpWebhookSink({ url: config.webhook.url, secret: config.webhook.secret, log })
      : new NoWebhooks();
    // Let deliveries in flight finish at shutdown, without further retries (they never block calls).
    cleanup.push(() => webhooks.close());
    const calls = new CallService({
      calls: stores.calls,
      accounts: stores.accounts,
      bus: stores.bus,
      webhooks,
      blocks,
      limits,
      timings: config.calls,
      log,
      onOutcome: (outcome) => metrics.callSetups.inc({ outcome }),
      isInCallRoom: async (callId, userId) =>
        (await store.listParticipants(callRoomName(callId))).some((p) => p.userId === userId),
      closeCallRoom: (callId) => rooms.closeRoom(callRoomName(callId)),
    });
    cleanup.push(() => calls.close());
    // The backstop for call timers that died with their node; one node at a time runs it (a lease).
    const sweeper = new CallSweeper({
      store: stores.calls,
      calls,
      lease: stores.counters
        ? new RedisLease(stores.counters, stores.keys.lease('call-sweeper'))
        : new LocalLease(),
      owner: `${config.nodeId}:${incarnation}`,
      intervalMs: config.liveness.heartbeatIntervalMs,
      timings: config.calls,
      isInCallRoom: async (callId, userId) =>
        (await store.listParticipants(callRoomName(callId))).some((p) => p.userId === userId),
      log,
    });
    sweeper.start();
    cleanup.push(() => sweeper.close());

    // `signaling` is created below; the gauge reads it only at scrape time, after start-up.
    const metrics = createMetrics({
      rooms,
      workers,
      connections: () => signaling.connectionCount,
      relayed: () => relay.counts,
      parkedSessions: () => signaling.parkedSessions,
    });

    const app = createHttpApp({
      metrics: metrics.registry,
      metricsToken: config.metricsToken,
      serveMetrics: config.metricsListen === undefined,
      trustProxy: config.trustProxy,
      frameAncestors: config.frameAncestors,
      production: config.env === 'production',
      tokens,
      accounts,
      blocks,
      external,
      apiKeys: config.apiKeys,
      devTokens: config.devTokens,
      refreshCookie: { secure: config.refreshCookieSecure, maxAgeSeconds: config.refreshTokenTtlSeconds },
      health,
      clientDir: opts.clientDir ?? DEFAULT_CLIENT_DIR,
      log,
    });
    server.on('request', app);
    const signaling = new SignalingServer({
      http: server,
      tokens,
      rooms,
      gateway: new AnyNodeRoomGateway({
        local,
        relay,
        hostSettled: (roomName) => rooms.awaitHostVerdict(roomName),
      }),
      calls,
      log,
      maxConnections: config.wsMaxConnections,
      acceptQueryToken: config.wsQueryToken,
      observer: {
        request: (method, ok, code) => {
          metrics.sessionObserver.request(method, ok, code);
          // A failed media request may be the first sign of a broken worker channel: check now, so
          // the worker is replaced (and its rooms told to rejoin) before the next client trips on it.
          if (code === ErrorCode.MediaError || code === ErrorCode.Internal) workers.checkHealth();
        },
      },
      limits: config.limits,
      resumeGraceMs: config.resumeGraceMs,
      pingIntervalMs: config.signalingPingIntervalMs,
      clientAddress: clientAddressResolver(config.trustProxy),
      onLimited: (limit) => metrics.limitsHit.inc({ limit }),
      // The name others see is the account's current one (renames apply from the next join); a dev
      // token has no account and keeps its token's name. One indexed read per join; if the database
      // cannot answer, the name signed into the token (also the account's, as of sign-in) is used.
      displayNameOf: async (identity) => {
        if (identity.dev) return identity.displayName;
        try {
          return (await accounts.me(identity.userId)).name;
        } catch (error) {
          log.debug('account name unavailable; using the token name', { error });
          return identity.displayName;
        }
      },
      // Each join answer carries TURN credentials minted for that user at that moment (coturn checks
      // their expiry), so a call that outlives the TTL gets fresh ones on its next join.
      iceServersOf: (identity) => (config.turn ? [turnCredentials(config.turn, identity.userId)] : []),
      // Tokens of signed-out or revoked devices are refused even before they expire.
      authorize: async (identity) => {
        if (identity.dev) {
          if (!config.devTokens) throw new ServiceError(ErrorCode.Unauthorized, 'invalid access token', 401);
        } else {
          await accounts.assertDeviceActive(identity);
        }
      },
    });
    cleanup.push(() => signaling.close());

    let metricsUrl: string | undefined;
    const metricsListen = config.metricsListen;
    if (metricsListen) {
      const metricsServer = http.createServer(
        createMetricsApp({ health, metrics: metrics.registry, metricsToken: config.metricsToken, log }),
      );
      await new Promise<void>((resolve, reject) => {
        metricsServer.once('error', reject);
        metricsServer.listen(metricsListen.port, metricsListen.host, () => resolve());
      });
      metricsServer.on('error', (error) => log.error('metrics listener failed', { error }));
      cleanup.push(() => new Promise<void>((resolve) => metricsServer.close(() => resolve())));
      const a = metricsServer.address() as AddressInfo;
      metricsUrl = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    }

    log.info('calling service listening', {
      url,
      nodeId: config.nodeId,
      workers: workers.workers.length,
      rtcAnnouncedAddress: config.mediasoup.announcedAddress,
      devTokens: config.devTokens,
    });
    if (config.jwt.secretIsEphemeral)
      log.warn('JWT_SECRET not set: tokens are signed with a random per-process key');
    const exposed = exposedDevelopmentFeatures(config);
    if (exposed.length > 0) {
      // Loud on purpose: each of these lets anyone who can reach the port sign in as someone.
      log.warn(
        `DEVELOPMENT FEATURES ARE ON WHILE LISTENING ON ${config.host} (not loopback): ${exposed.join('; ')}. ` +
          'Set HOST=127.0.0.1 for local work, or NODE_ENV=production for a real deployment.',
        { exposedDevelopmentFeatures: exposed },
      );
    }

    let drainRun: Promise<void> | undefined;
    const drain = async (timeoutMs: number): Promise<void> => {
      draining = true;
      log.info('draining: taking nothing new, telling clients to move', { timeoutMs });
      // New TCP connections are refused from now on (a load balancer sends them elsewhere).
      server.close();
      await rooms.drain();
      await signaling.drain();
      if (await rooms.idle(timeoutMs)) log.info('drained');
      else log.warn('drain timed out; closing what is left', { rooms: [...rooms.rooms].length });
    };

    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      metricsUrl,
      store,
      stores,
      accounts,
      calls,
      workers,
      rooms,
      relay,
      tokens,
      signaling,
      health,
      drain: (timeoutMs) => (drainRun ??= drain(timeoutMs)),
      close: () => (closing ??= unwind()),
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
