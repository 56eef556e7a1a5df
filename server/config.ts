/**
 * Configuration comes only from environment variables, validated once at start-up so a typo fails
 * loudly with the variable's name instead of surfacing later as a strange runtime error.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { RedisAddress, RedisTarget } from '../state/redisConnections.js';
import type { DatabaseTarget } from '../state/sql/openDatabase.js';
import { parseApiKeys, type ApiKeyRing } from '../auth/apiKeys.js';
import type { TurnConfig } from '../auth/turnCredentials.js';

export const MEDIASOUP_VERSION = '3.27.1';

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const port = z.coerce.number().int().min(0).max(65535);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: port.default(3000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  REDIS_URL: z.string().url().optional(),
  // Sentinel instead of one server: "host:port,host:port" of the sentinels, and the primary's name.
  REDIS_SENTINELS: z.string().trim().min(1).optional(),
  REDIS_SENTINEL_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default('mymaster'),
  // A Redis Cluster instead: "host:port,…" of some of its nodes (the client discovers the rest).
  REDIS_CLUSTER_NODES: z.string().trim().min(1).optional(),
  // postgres://… for several nodes; "memory:" keeps accounts in this process only (tests, demos).
  DATABASE_URL: z
    .string()
    .regex(/^(postgres(ql)?:\/\/.+|memory:)$/, 'must be postgres://…, postgresql://… or memory:')
    .optional(),
  // The embedded SQLite database lives here (when DATABASE_URL is not set).
  DATA_DIR: z.string().min(1).optional(),
  STATE_TTL_SECONDS: z.coerce.number().int().min(2).max(3600).default(30),
  // The room relay between nodes (rooms/relay/): how long a relayed request may wait for the room's
  // host node, and how often nodes check the sessions they relay for each other.
  RELAY_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  RELAY_CHECK_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  // Liveness (kept apart from the state TTL): how often a node says it is alive, and after how long
  // without a word it counts as dead (its rooms are taken over, its members purged).
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  NODE_DEAD_AFTER_MS: z.coerce.number().int().min(300).max(600_000).default(4000),
  // SIGTERM: how long a draining node waits for its clients to move before it closes what is left.
  DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  ROOM_INVITE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
  ROOM_MEMBERSHIP_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(365 * 24 * 3600)
    .default(7 * 24 * 3600),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_ISSUER: z.string().min(1).default('calling-service'),
  JWT_AUDIENCE: z.string().min(1).default('calling-service'),
  JWT_TTL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(600),
  REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(60),
  // "E164=code" or "E164..E164=code" ranges, comma-separated: fictional numbers that send no SMS.
  TEST_PHONE_NUMBERS: z.string().optional(),
  SMS_GATEWAY_URL: z.string().url().optional(),
  SMS_GATEWAY_TOKEN: z.string().min(1).optional(),
  DEV_TOKENS: boolean.optional(),
  MEDIASOUP_WORKER_BIN: z.string().min(1).optional(),
  MEDIASOUP_WORKER_CACHE: z.string().min(1).optional(),
  MEDIASOUP_NUM_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  MEDIASOUP_LOG_LEVEL: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
  // Comma-separated worker log tags (info, ice, dtls, rtp, srtp, rtcp, rtx, bwe, score, simulcast, svc, sctp, message).
  MEDIASOUP_LOG_TAGS: z
    .string()
    .regex(/^[a-z]+(,[a-z]+)*$/)
    .optional(),
  RTC_LISTEN_IP: z.ipv4().or(z.ipv6()).default('0.0.0.0'),
  RTC_ANNOUNCED_ADDRESS: z.string().min(1).optional(),
  RTC_PORT_BASE: port.default(40000),
  // TURN relays (coturn with use-auth-secret) handed to clients with time-limited credentials.
  TURN_URLS: z.string().trim().optional(),
  TURN_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  TURN_CREDENTIAL_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  RTC_SOCKET_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(65_536)
    .max(256 * 1024 * 1024)
    .default(8 * 1024 * 1024),
  CALL_RING_TIMEOUT_SECONDS: z.coerce.number().min(1).max(300).default(45),
  CALL_MEDIA_TIMEOUT_SECONDS: z.coerce.number().min(1).max(300).default(30),
  CALL_RECONNECT_GRACE_SECONDS: z.coerce.number().min(0).max(300).default(10),
  /** How long a session whose socket dropped keeps its peer for `resume`; 0 turns resume off. */
  RESUME_GRACE_MS: z.coerce.number().int().min(0).max(300_000).default(15_000),
  /**
   * How often the server pings each signaling socket; one missed pong and the socket is dropped (and
   * its session parked for a resume), so a client that vanished is noticed within two intervals.
   */
  SIGNALING_PING_INTERVAL_MS: z.coerce.number().int().min(500).max(120_000).default(5_000),
  WEBHOOK_URL: z.string().url().optional(),
  WEBHOOK_SECRET: z.string().min(16).optional(),
  // When set, GET /metrics and detailed /healthz require "Authorization: Bearer <METRICS_TOKEN>".
  METRICS_TOKEN: z.string().min(16).optional(),
  // When set, /metrics and detailed /healthz move to their own listener (METRICS_HOST:METRICS_PORT).
  METRICS_PORT: port.optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  // Which proxies in front of us may name the client in X-Forwarded-For (hop count or address list).
  TRUST_PROXY: z.string().trim().optional(),
  // Origins allowed to frame the web page (CSP frame-ancestors); unset means nobody may.
  FRAME_ANCESTORS: z.string().trim().optional(),
  CODE_VERIFY_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(5),
  CONTACTS_DAILY_NEW_NUMBERS_PER_USER: z.coerce.number().int().min(1).default(5_000),
  CONTACTS_DAILY_NEW_NUMBERS_PER_IP: z.coerce.number().int().min(1).default(20_000),
  CONTACTS_DAILY_REQUESTERS_PER_NUMBER: z.coerce.number().int().min(1).default(100),
  CALL_INVITES_PER_CALLEE: z.coerce.number().int().min(1).max(1000).default(5),
  CALL_INVITES_PER_CALLEE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  WS_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(20_000),
  // Per-user / per-connection limits (README "Security"): far above what a real client uses.
  WS_MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).default(16),
  WS_MAX_SOCKETS_PER_DEVICE: z.coerce.number().int().min(1).default(4),
  WS_MAX_SOCKETS_PER_IP: z.coerce.number().int().min(1).default(256),
  WS_REQUESTS_PER_SECOND: z.coerce.number().min(1).default(50),
  WS_REQUEST_BURST: z.coerce.number().int().min(1).default(200),
  WS_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .min(16 * 1024)
    .default(4 * 1024 * 1024),
  WS_SLOW_READER_GRACE_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  ROOMS_CREATED_PER_USER_PER_MINUTE: z.coerce.number().int().min(1).default(10),
  PEER_MAX_TRANSPORTS: z.coerce.number().int().min(2).default(8),
  PEER_MAX_PRODUCERS: z.coerce.number().int().min(1).default(8),
  CALL_WARM_PEERS_MAX: z.coerce.number().int().min(0).max(64).default(8),
  // Deprecated `/ws?token=…` (tokens leak into logs through URLs): on outside production by default.
  WS_QUERY_TOKEN: boolean.optional(),
  // The web app's refresh-token cookie is Secure (HTTPS only): on in production by default.
  REFRESH_COOKIE_SECURE: boolean.optional(),
  // "id:secret" pairs, comma-separated: embedding messengers' backends (POST /api/v1/server/…).
  API_KEYS: z.string().optional(),
  API_KEY_TOKENS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(600),
});

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  nodeId: string;
  /** REDIS_URL as given (the single-server case of `redis`). */
  redisUrl: string | undefined;
  /** Where the shared state lives: one server, a Sentinel-watched primary, or a Cluster; none: embedded. */
  redis: RedisTarget | undefined;
  /** Accounts, devices, photos and call history. */
  database: DatabaseTarget;
  stateTtlSeconds: number;
  relay: { requestTimeoutMs: number; checkIntervalMs: number };
  liveness: {
    /** How often the node heartbeats (node entry and every hosted room). */
    heartbeatIntervalMs: number;
    /** A node silent this long is dead: any other node may take over its rooms and purge them. */
    nodeDeadAfterMs: number;
  };
  /** How long SIGTERM waits for clients to move to another node before closing what is left. */
  drainTimeoutMs: number;
  rooms: {
    /** How long an invite link is valid. */
    inviteTtlSeconds: number;
    /** A room's members list is forgotten this long after its last join or addition. */
    membershipTtlSeconds: number;
  };
  jwt: {
    secret: string;
    /** True when no JWT_SECRET was given and a random one was made for this process. */
    secretIsEphemeral: boolean;
    issuer: string;
    audience: string;
    ttlSeconds: number;
  };
  refreshTokenTtlSeconds: number;
  /** Mark the web app's HttpOnly refresh-token cookie Secure. */
  refreshCookieSecure: boolean;
  /** Fictional numbers that accept a fixed code and send nothing (tests, demos, load bots). */
  testPhoneNumbers: Map<string, string>;
  sms: { gatewayUrl: string | undefined; gatewayToken: string | undefined };
  devTokens: boolean;
  mediasoup: {
    workerBin: string | undefined;
    numWorkers: number;
    logLevel: 'debug' | 'warn' | 'error' | 'none';
    logTags: string[];
    listenIp: string;
    announcedAddress: string;
    /** Worker i listens on portBase + i (UDP and TCP). */
    portBase: number;
    socketBufferBytes: number;
  };
  /** TURN relays whose credentials go out with the join answer; undefined: none configured. */
  turn: TurnConfig | undefined;
  wsMaxConnections: number;
  /** Accept the deprecated `?token=` on the WebSocket URL (logged as a warning when used). */
  wsQueryToken: boolean;
  metricsToken: string | undefined;
  /** A separate, non-public listener for /metrics and detailed /healthz; unset = the main port. */
  metricsListen: { host: string; port: number } | undefined;
  /** express `trust proxy`: false, a hop count, or addresses/CIDRs/names of trusted proxies. */
  trustProxy: TrustProxy;
  /** CSP frame-ancestors sources: `'none'` by default, else the embedding messenger's origins. */
  frameAncestors: string[];
  abuse: AbuseLimitsConfig;
  limits: SignalingLimitsConfig;
  calls: { ringTimeoutMs: number; mediaTimeoutMs: number; reconnectGraceMs: number };
  /** Resume of a dropped signaling session (0: off). */
  resumeGraceMs: number;
  /** WebSocket ping interval; a socket that missed one pong is dropped. */
  signalingPingIntervalMs: number;
  webhook: { url: string; secret: string } | undefined;
  /** Keys of embedding messengers' backends (server-to-server sign-in); secrets stay inside. */
  apiKeys: ApiKeyRing;
}

export type TrustProxy = false | number | string[];

/** Tunable abuse limits of sign-in, contact discovery and calls (see README "Security"). */
export interface AbuseLimitsConfig {
  /** Wrong codes one client may enter for one number before that pair is locked for 15 min. */
  verifyMaxFailures: number;
  /** Numbers an account may look up per day that it did not already look up today. */
  contactsPerUserDaily: number;
  /** The same, per client address (all accounts behind it). */
  contactsPerIpDaily: number;
  /** Distinct accounts per day that may get an answer about one number; beyond, it reads "not found". */
  contactsRequestersPerNumberDaily: number;
  /** Call invitations one caller may send to one callee per window (then RATE_LIMITED). */
  callInvitesPerCallee: number;
  callInvitesPerCalleeWindowSeconds: number;
  /** Server-to-server access tokens one API key may get per minute. */
  serverTokensPerKeyPerMinute: number;
}

/** Per-user and per-connection limits of signaling and media (see README "Security"). */
export interface SignalingLimitsConfig {
  socketsPerUser: number;
  socketsPerDevice: number;
  /** Sockets per client address (X-Forwarded-For as far as TRUST_PROXY allows). */
  socketsPerIp: number;
  /** Token bucket per socket: refill rate and burst. */
  requestsPerSecond: number;
  requestBurst: number;
  /** Outbound backlog of one socket past which it gets nothing more and, after the grace, is closed. */
  maxBufferedBytes: number;
  slowReaderGraceMs: number;
  roomsCreatedPerUserPerMinute: number;
  transportsPerPeer: number;
  producersPerPeer: number;
  /** Devices that may warm up one call's media while it rings (0 turns warm-up off). */
  warmPeersPerCall?: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Where scripts/worker/build-worker.sh caches the self-built worker; keep the two in step. */
export function cachedWorkerBinPath(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot =
    env.MEDIASOUP_WORKER_CACHE ??
    path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'calling-service', 'mediasoup-worker');
  return path.join(cacheRoot, MEDIASOUP_VERSION, 'mediasoup-worker');
}

/** Where the embedded database lives without DATA_DIR: the user's data directory, not the checkout. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(
    env.XDG_DATA_HOME ?? path.join(env.HOME ?? os.homedir(), '.local', 'share'),
    'calling-service',
  );
}

export const SQLITE_FILE_NAME = 'calling-service.db';

function databaseTarget(url: string | undefined, dataDir: string): DatabaseTarget {
  if (url === 'memory:') return { kind: 'memory' };
  if (url) return { kind: 'postgres', url };
  return { kind: 'sqlite', file: path.resolve(dataDir, SQLITE_FILE_NAME) };
}

/** Outside production: 100 fictional North American numbers (555-01XX) with code 123456. */
export const DEFAULT_TEST_PHONE_NUMBERS = '+12015550100..+12015550199=123456';

export function parseTestPhoneNumbers(spec: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\+\d{8,15})(?:\.\.(\+\d{8,15}))?=(\d{6})$/.exec(raw);
    if (!m) throw new Error(`"${raw}" is not "+E164=123456" or "+E164..+E164=123456"`);
    const [, from, to, code] = m as unknown as [string, string, string | undefined, string];
    if (!to) {
      out.set(from, code);
      continue;
    }
    const start = BigInt(from.slice(1));
    const end = BigInt(to.slice(1));
    if (end < start || end - start > 10_000n || from.length !== to.length) {
      throw new Error(`"${raw}": a range must go upwards, keep its length and span at most 10,000 numbers`);
    }
    for (let n = start; n <= end; n++) out.set(`+${n}`, code);
  }
  return out;
}

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * "false"/unset, a hop count ("1": the one load balancer in front of us), or a comma-separated list of
 * addresses, CIDRs or express's names (loopback, linklocal, uniquelocal). "true" is refused: trusting
 * every hop lets any client forge its address and walk around per-IP limits.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 10) throw new Error('a hop count must be at most 10');
    return hops;
  }
  if (raw === 'true')
    throw new Error('"true" trusts any client\'s X-Forwarded-For; give a hop count or CIDRs');
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    if (TRUST_PROXY_NAMES.has(entry)) continue;
    const [address, bits, extra] = entry.split('/');
    const family = net.isIP(address ?? '');
    const maxBits = family === 6 ? 128 : 32;
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || extra !== undefined) {
      throw new Error(
        `"${entry}" is not an IP address, a CIDR or one of ${[...TRUST_PROXY_NAMES].join(', ')}`,
      );
    }
  }
  return entries;
}

/** Comma- or space-separated origins ("https://messenger.example") allowed to frame the page. */
export function parseFrameAncestors(raw: string | undefined): string[] {
  if (raw === undefined || raw === '' || raw === "'none'" || raw === 'none') return ["'none'"];
  const sources = raw.split(/[\s,]+/).filter(Boolean);
  for (const source of sources) {
    if (source === "'self'") continue;
    // Only scheme://host[:port] (a leading "*." wildcard allowed): no paths, no quotes, no "*" alone.
    if (!/^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$/.test(source)) {
      throw new Error(`"${source}" is not an origin like https://messenger.example or 'self'`);
    }
  }
  return sources;
}

/**
 * Comma-separated turn:/turns: URLs (RFC 7065) and the shared secret: both or neither, so a relay
 * is never announced without credentials that work on it.
 */
export function parseTurn(
  rawUrls: string | undefined,
  secret: string | undefined,
  ttlSeconds: number,
): TurnConfig | undefined {
  const urls = (rawUrls ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (urls.length === 0 && secret === undefined) return undefined;
  if (urls.length === 0) throw new Error('required with TURN_SECRET');
  if (secret === undefined) throw new Error('TURN_SECRET is required with TURN_URLS');
  for (const url of urls) {
    if (!/^turns?:[A-Za-z0-9.:[\]-]+(\?transport=(udp|tcp))?$/.test(url))
      throw new Error(`"${url}" is not turn:host[:port][?transport=udp|tcp] or turns:…`);
  }
  return { urls, secret, ttlSeconds };
}

function firstExternalIPv4(): string | undefined {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';

  if (production && !e.JWT_SECRET) {
    throw new ConfigError('Invalid configuration:\n  JWT_SECRET: required when NODE_ENV=production');
  }
  if (production && !e.SMS_GATEWAY_URL) {
    throw new ConfigError('Invalid configuration:\n  SMS_GATEWAY_URL: required when NODE_ENV=production');
  }
  let testPhoneNumbers: Map<string, string>;
  try {
    testPhoneNumbers = parseTestPhoneNumbers(
      e.TEST_PHONE_NUMBERS ?? (production ? '' : DEFAULT_TEST_PHONE_NUMBERS),
    );
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  TEST_PHONE_NUMBERS: ${(err as Error).message}`);
  }
  if (e.WEBHOOK_URL && !e.WEBHOOK_SECRET) {
    throw new ConfigError(
      'Invalid configuration:\n  WEBHOOK_SECRET: required with WEBHOOK_URL (receivers verify the HMAC)',
    );
  }
  if (production && e.DEV_TOKENS === true) {
    throw new ConfigError('Invalid configuration:\n  DEV_TOKENS: cannot be enabled when NODE_ENV=production');
  }

  if (production && !e.METRICS_TOKEN && e.METRICS_PORT === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  METRICS_TOKEN: required when NODE_ENV=production (or set METRICS_PORT to serve metrics on a private listener)',
    );
  }
  let apiKeys: ApiKeyRing;
  try {
    apiKeys = parseApiKeys(e.API_KEYS);
  } catch (err) {
    // The parser's messages name entries and ids, never a secret.
    throw new ConfigError(`Invalid configuration:\n  API_KEYS: ${(err as Error).message}`);
  }
  let trustProxy: TrustProxy;
  let frameAncestors: string[];
  try {
    trustProxy = parseTrustProxy(e.TRUST_PROXY);
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  TRUST_PROXY: ${(err as Error).message}`);
  }
  try {
    frameAncestors = parseFrameAncestors(e.FRAME_ANCESTORS);
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  FRAME_ANCESTORS: ${(err as Error).message}`);
  }

  const redis = redisTarget(e.REDIS_URL, e.REDIS_SENTINELS, e.REDIS_SENTINEL_NAME, e.REDIS_CLUSTER_NODES);
  // A node must miss at least one heartbeat before it counts as dead, and its rooms' keys must
  // outlive a heartbeat interval, or a live node would lose its rooms between two beats.
  if (e.NODE_DEAD_AFTER_MS < 2 * e.HEARTBEAT_INTERVAL_MS) {
    throw new ConfigError(
      'Invalid configuration:\n  NODE_DEAD_AFTER_MS: must be at least twice HEARTBEAT_INTERVAL_MS',
    );
  }
  if (e.STATE_TTL_SECONDS * 1000 < 2 * e.HEARTBEAT_INTERVAL_MS) {
    throw new ConfigError(
      'Invalid configuration:\n  STATE_TTL_SECONDS: must be at least twice HEARTBEAT_INTERVAL_MS',
    );
  }

  const listenIp = e.RTC_LISTEN_IP;
  const unspecified = listenIp === '0.0.0.0' || listenIp === '::';
  const announcedAddress =
    e.RTC_ANNOUNCED_ADDRESS ?? (unspecified ? (firstExternalIPv4() ?? '127.0.0.1') : listenIp);

  let turn: TurnConfig | undefined;
  try {
    turn = parseTurn(e.TURN_URLS, e.TURN_SECRET, e.TURN_CREDENTIAL_TTL_SECONDS);
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  TURN_URLS: ${(err as Error).message}`);
  }

  const cached = cachedWorkerBinPath(env);
  const workerBin = e.MEDIASOUP_WORKER_BIN ?? (existsSync(cached) ? cached : undefined);

  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    nodeId: e.NODE_ID ?? defaultNodeId(),
    redisUrl: e.REDIS_URL,
    redis,
    database: databaseTarget(e.DATABASE_URL, e.DATA_DIR ?? defaultDataDir(env)),
    stateTtlSeconds: e.STATE_TTL_SECONDS,
    relay: { requestTimeoutMs: e.RELAY_REQUEST_TIMEOUT_MS, checkIntervalMs: e.RELAY_CHECK_INTERVAL_MS },
    liveness: { heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS, nodeDeadAfterMs: e.NODE_DEAD_AFTER_MS },
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
    rooms: {
      inviteTtlSeconds: e.ROOM_INVITE_TTL_SECONDS,
      membershipTtlSeconds: e.ROOM_MEMBERSHIP_TTL_SECONDS,
    },
    jwt: {
      secret: e.JWT_SECRET ?? randomBytes(32).toString('base64url'),
      secretIsEphemeral: !e.JWT_SECRET,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      ttlSeconds: e.JWT_TTL_SECONDS,
    },
    refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_DAYS * 86_400,
    refreshCookieSecure: e.REFRESH_COOKIE_SECURE ?? production,
    testPhoneNumbers,
    sms: { gatewayUrl: e.SMS_GATEWAY_URL, gatewayToken: e.SMS_GATEWAY_TOKEN },
    devTokens: production ? false : (e.DEV_TOKENS ?? true),
    mediasoup: {
      workerBin,
      numWorkers: e.MEDIASOUP_NUM_WORKERS ?? os.availableParallelism(),
      logLevel: e.MEDIASOUP_LOG_LEVEL,
      logTags: e.MEDIASOUP_LOG_TAGS ? e.MEDIASOUP_LOG_TAGS.split(',') : [],
      listenIp,
      announcedAddress,
      portBase: e.RTC_PORT_BASE,
      socketBufferBytes: e.RTC_SOCKET_BUFFER_BYTES,
    },
    turn,
    wsMaxConnections: e.WS_MAX_CONNECTIONS,
    wsQueryToken: e.WS_QUERY_TOKEN ?? !production,
    metricsToken: e.METRICS_TOKEN,
    metricsListen: e.METRICS_PORT === undefined ? undefined : { host: e.METRICS_HOST, port: e.METRICS_PORT },
    trustProxy,
    frameAncestors,
    abuse: {
      verifyMaxFailures: e.CODE_VERIFY_MAX_FAILURES,
      contactsPerUserDaily: e.CONTACTS_DAILY_NEW_NUMBERS_PER_USER,
      contactsPerIpDaily: e.CONTACTS_DAILY_NEW_NUMBERS_PER_IP,
      contactsRequestersPerNumberDaily: e.CONTACTS_DAILY_REQUESTERS_PER_NUMBER,
      callInvitesPerCallee: e.CALL_INVITES_PER_CALLEE,
      callInvitesPerCalleeWindowSeconds: e.CALL_INVITES_PER_CALLEE_WINDOW_SECONDS,
      serverTokensPerKeyPerMinute: e.API_KEY_TOKENS_PER_MINUTE,
    },
    limits: {
      socketsPerUser: e.WS_MAX_SOCKETS_PER_USER,
      socketsPerDevice: e.WS_MAX_SOCKETS_PER_DEVICE,
      socketsPerIp: e.WS_MAX_SOCKETS_PER_IP,
      requestsPerSecond: e.WS_REQUESTS_PER_SECOND,
      requestBurst: e.WS_REQUEST_BURST,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
      slowReaderGraceMs: e.WS_SLOW_READER_GRACE_MS,
      roomsCreatedPerUserPerMinute: e.ROOMS_CREATED_PER_USER_PER_MINUTE,
      transportsPerPeer: e.PEER_MAX_TRANSPORTS,
      producersPerPeer: e.PEER_MAX_PRODUCERS,
      warmPeersPerCall: e.CALL_WARM_PEERS_MAX,
    },
    calls: {
      ringTimeoutMs: e.CALL_RING_TIMEOUT_SECONDS * 1000,
      mediaTimeoutMs: e.CALL_MEDIA_TIMEOUT_SECONDS * 1000,
      reconnectGraceMs: e.CALL_RECONNECT_GRACE_SECONDS * 1000,
    },
    resumeGraceMs: e.RESUME_GRACE_MS,
    signalingPingIntervalMs: e.SIGNALING_PING_INTERVAL_MS,
    webhook: e.WEBHOOK_URL && e.WEBHOOK_SECRET ? { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET } : undefined,
    apiKeys,
  };
}

/**
 * The machine's hostname, stable across restarts (a pod's name, a VM's name), so a restarted node is
 * the same node with a new incarnation rather than a stranger whose predecessor lingers as a ghost.
 * Characters a node id may not hold become "-".
 */
function defaultNodeId(): string {
  return (
    os
      .hostname()
      .replace(/[^A-Za-z0-9_.-]/g, '-')
      .slice(0, 64) || 'node'
  );
}

/** Every environment variable the service reads (test/deploy.files.test.ts checks compose.yaml against it). */
export const CONFIG_ENV_NAMES: readonly string[] = Object.keys(envSchema.shape);

/** At most one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES names the deployment's Redis. */
function redisTarget(
  url: string | undefined,
  sentinels: string | undefined,
  sentinelName: string,
  clusterNodes: string | undefined,
): RedisTarget | undefined {
  const given = [
    ['REDIS_URL', url],
    ['REDIS_SENTINELS', sentinels],
    ['REDIS_CLUSTER_NODES', clusterNodes],
  ].filter(([, v]) => v !== undefined);
  if (given.length > 1) {
    throw new ConfigError(
      `Invalid configuration:\n  ${given.map(([k]) => k).join(', ')}: set only one of them (one Redis deployment)`,
    );
  }
  if (url !== undefined) return { kind: 'url', url };
  if (sentinels !== undefined) {
    return { kind: 'sentinel', sentinels: parseAddresses('REDIS_SENTINELS', sentinels), name: sentinelName };
  }
  if (clusterNodes !== undefined) {
    return { kind: 'cluster', nodes: parseAddresses('REDIS_CLUSTER_NODES', clusterNodes) };
  }
  return undefined;
}

/** "host:port,host:port" (an IPv6 host in brackets: "[::1]:26379"). */
function parseAddresses(name: string, list: string): RedisAddress[] {
  return list.split(',').map((item) => {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/.exec(item.trim());
    const portNumber = m ? Number(m[3]) : 0;
    if (!m || portNumber < 1 || portNumber > 65535) {
      throw new ConfigError(`Invalid configuration:\n  ${name}: "${item.trim()}" is not host:port`);
    }
    return { host: (m[1] ?? m[2])!, port: portNumber };
  });
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The development conveniences that are on while the node listens beyond loopback: each lets anyone
 * who reaches the port sign in as someone or read codes. Empty when HOST is loopback or none is on.
 */
export function exposedDevelopmentFeatures(config: Config): string[] {
  if (isLoopbackHost(config.host)) return [];
  const features: string[] = [];
  if (config.devTokens) features.push('DEV_TOKENS (anyone can mint a token: POST /api/v1/dev/token)');
  if (config.testPhoneNumbers.size > 0)
    features.push(`TEST_PHONE_NUMBERS (${config.testPhoneNumbers.size} numbers sign in with a fixed code)`);
  if (config.env === 'development' && !config.sms.gatewayUrl)
    features.push('console SMS (sign-in codes are printed to the log instead of sent)');
  if (!config.metricsToken && !config.metricsListen)
    features.push('open /metrics and /healthz details (no METRICS_TOKEN, no METRICS_PORT)');
  return features;
}
