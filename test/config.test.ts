import { describe, expect, it } from 'vitest';
import { ConfigError, exposedDevelopmentFeatures, loadConfig } from '../server/config.js';

describe('configuration from the environment', () => {
  it('has defaults that work on one machine', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.redisUrl).toBeUndefined();
    expect(c.redis).toBeUndefined();
    expect(c.devTokens).toBe(true);
    expect(c.jwt.secretIsEphemeral).toBe(true);
    expect(c.mediasoup.numWorkers).toBeGreaterThanOrEqual(1);
    expect(c.mediasoup.portBase).toBe(40000);
  });

  it('names one Redis deployment: a server, a Sentinel-watched primary, or a Cluster', () => {
    expect(loadConfig({ REDIS_URL: 'redis://r:6379' }).redis).toEqual({ kind: 'url', url: 'redis://r:6379' });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379, [::1]:26380' }).redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'mymaster',
    });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'calls' }).redis).toMatchObject({
      name: 'calls',
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000,r2:7001' }).redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 7001 },
      ],
    });
  });

  it('heartbeats every second, declares a node dead after 4 s, and keeps its NODE_ID across restarts', () => {
    const c = loadConfig({});
    expect(c.liveness).toEqual({ heartbeatIntervalMs: 1000, nodeDeadAfterMs: 4000 });
    expect(c.drainTimeoutMs).toBe(10_000);
    // Stable by default (the hostname), so a restart is the same node with a new incarnation.
    expect(loadConfig({}).nodeId).toBe(c.nodeId);
    expect(c.nodeId).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
    const tuned = loadConfig({
      HEARTBEAT_INTERVAL_MS: '500',
      NODE_DEAD_AFTER_MS: '3000',
      DRAIN_TIMEOUT_MS: '0',
    });
    expect(tuned.liveness).toEqual({ heartbeatIntervalMs: 500, nodeDeadAfterMs: 3000 });
    expect(tuned.drainTimeoutMs).toBe(0);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ REDIS_SENTINELS: 'sentinel-a' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'a:26379,b:0' }, 'REDIS_SENTINELS'],
    [{ REDIS_CLUSTER_NODES: 'a:7000,b' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_URL: 'redis://r:6379', REDIS_SENTINELS: 'a:26379' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'a:26379', REDIS_CLUSTER_NODES: 'a:7000' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'my master' }, 'REDIS_SENTINEL_NAME'],
    [{ DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL'],
    [{ DATA_DIR: '' }, 'DATA_DIR'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ RTC_LISTEN_IP: 'localhost' }, 'RTC_LISTEN_IP'],
    [{ MEDIASOUP_NUM_WORKERS: '0' }, 'MEDIASOUP_NUM_WORKERS'],
    [{ DEV_TOKENS: 'maybe' }, 'DEV_TOKENS'],
    [{ HEARTBEAT_INTERVAL_MS: '2000', NODE_DEAD_AFTER_MS: '3000' }, 'NODE_DEAD_AFTER_MS'],
    [{ HEARTBEAT_INTERVAL_MS: '2000', STATE_TTL_SECONDS: '3' }, 'STATE_TTL_SECONDS'],
    [{ DRAIN_TIMEOUT_MS: '-1' }, 'DRAIN_TIMEOUT_MS'],
    [{ NODE_ENV: 'production' }, 'JWT_SECRET'],
    [
      {
        NODE_ENV: 'production',
        JWT_SECRET: 'x'.repeat(32),
        DEV_TOKENS: 'true',
        SMS_GATEWAY_URL: 'http://sms',
      },
      'DEV_TOKENS',
    ],
    [{ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }, 'SMS_GATEWAY_URL'],
    [{ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), SMS_GATEWAY_URL: 'http://sms' }, 'METRICS_TOKEN'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'proxy.example' }, 'TRUST_PROXY'],
    [{ FRAME_ANCESTORS: '*' }, 'FRAME_ANCESTORS'],
    [{ FRAME_ANCESTORS: 'https://messenger.example/path' }, 'FRAME_ANCESTORS'],
    [{ METRICS_PORT: '-1' }, 'METRICS_PORT'],
    [{ CODE_VERIFY_MAX_FAILURES: '0' }, 'CODE_VERIFY_MAX_FAILURES'],
    [{ TEST_PHONE_NUMBERS: '+12015550100=12' }, 'TEST_PHONE_NUMBERS'],
    [{ TEST_PHONE_NUMBERS: '+12015550199..+12015550100=123456' }, 'TEST_PHONE_NUMBERS'],
  ])('names the bad variable: %o', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(name));
  });

  it('keeps accounts in SQLite under DATA_DIR unless DATABASE_URL names PostgreSQL or memory:', () => {
    expect(loadConfig({ HOME: '/home/ana' }).database).toEqual({
      kind: 'sqlite',
      file: '/home/ana/.local/share/calling-service/calling-service.db',
    });
    expect(loadConfig({ DATA_DIR: '/var/lib/calling' }).database).toEqual({
      kind: 'sqlite',
      file: '/var/lib/calling/calling-service.db',
    });
    const url = 'postgres://cs:pw@db.internal:5432/calling';
    expect(loadConfig({ DATABASE_URL: url, DATA_DIR: '/ignored' }).database).toEqual({
      kind: 'postgres',
      url,
    });
    expect(loadConfig({ DATABASE_URL: 'memory:' }).database).toEqual({ kind: 'memory' });
  });

  it('turns development tokens and default test numbers off in production', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(32),
      SMS_GATEWAY_URL: 'http://sms',
      METRICS_TOKEN: 'm'.repeat(16),
    });
    expect(c.devTokens).toBe(false);
    expect(c.jwt.secretIsEphemeral).toBe(false);
    expect(c.testPhoneNumbers.size).toBe(0);
  });

  it('accepts the deprecated ?token= on the WebSocket URL outside production only, unless told', () => {
    const prod = {
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(32),
      SMS_GATEWAY_URL: 'http://sms',
      METRICS_TOKEN: 'm'.repeat(16),
    };
    expect(loadConfig({}).wsQueryToken).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).wsQueryToken).toBe(true);
    expect(loadConfig({ WS_QUERY_TOKEN: 'false' }).wsQueryToken).toBe(false);
    expect(loadConfig(prod).wsQueryToken).toBe(false);
    expect(loadConfig({ ...prod, WS_QUERY_TOKEN: 'true' }).wsQueryToken).toBe(true);
  });

  it('expands test phone number ranges', () => {
    const c = loadConfig({ TEST_PHONE_NUMBERS: '+12015550100..+12015550102=111111, +447700900123=222222' });
    expect([...c.testPhoneNumbers]).toEqual([
      ['+12015550100', '111111'],
      ['+12015550101', '111111'],
      ['+12015550102', '111111'],
      ['+447700900123', '222222'],
    ]);
    expect(loadConfig({}).testPhoneNumbers.get('+12015550150')).toBe('123456');
  });

  it('announces the listen address when it is specific', () => {
    const c = loadConfig({ RTC_LISTEN_IP: '127.0.0.1' });
    expect(c.mediasoup.announcedAddress).toBe('127.0.0.1');
  });

  it('starts in production with a private metrics port instead of a token', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(32),
      SMS_GATEWAY_URL: 'http://sms',
      METRICS_PORT: '9100',
    });
    expect(c.metricsListen).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(c.metricsToken).toBeUndefined();
  });

  it('reads TRUST_PROXY as off, a hop count, or a list of addresses and CIDRs', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8 ,192.0.2.7' }).trustProxy).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
      '192.0.2.7',
    ]);
  });

  it('has per-user and per-connection limits a real client never reaches, and refuses nonsense', () => {
    expect(loadConfig({}).limits).toEqual({
      socketsPerUser: 16,
      socketsPerDevice: 4,
      socketsPerIp: 256,
      requestsPerSecond: 50,
      requestBurst: 200,
      maxBufferedBytes: 4 * 1024 * 1024,
      slowReaderGraceMs: 10_000,
      roomsCreatedPerUserPerMinute: 10,
      transportsPerPeer: 8,
      producersPerPeer: 8,
      warmPeersPerCall: 8,
    });
    expect(
      loadConfig({ WS_MAX_SOCKETS_PER_DEVICE: '2', PEER_MAX_TRANSPORTS: '3', CALL_WARM_PEERS_MAX: '0' })
        .limits,
    ).toMatchObject({
      socketsPerDevice: 2,
      transportsPerPeer: 3,
      warmPeersPerCall: 0,
    });
    // A peer needs a send and a receive transport; a backlog limit below one answer would close everyone.
    expect(() => loadConfig({ PEER_MAX_TRANSPORTS: '1' })).toThrow(/PEER_MAX_TRANSPORTS/);
    expect(() => loadConfig({ WS_MAX_BUFFERED_BYTES: '1000' })).toThrow(/WS_MAX_BUFFERED_BYTES/);
    expect(() => loadConfig({ WS_MAX_SOCKETS_PER_IP: '0' })).toThrow(/WS_MAX_SOCKETS_PER_IP/);
  });

  it("forbids framing by default and accepts a messenger's origins", () => {
    expect(loadConfig({}).frameAncestors).toEqual(["'none'"]);
    expect(
      loadConfig({ FRAME_ANCESTORS: 'https://messenger.example, https://*.messenger.example:8443' })
        .frameAncestors,
    ).toEqual(['https://messenger.example', 'https://*.messenger.example:8443']);
  });

  it('names the development features exposed beyond loopback, and none on loopback', () => {
    const wide = exposedDevelopmentFeatures(loadConfig({ HOST: '0.0.0.0' }));
    expect(wide.map((f) => f.split(' ')[0])).toEqual(['DEV_TOKENS', 'TEST_PHONE_NUMBERS', 'console', 'open']);
    expect(exposedDevelopmentFeatures(loadConfig({ HOST: '127.0.0.1' }))).toEqual([]);
    expect(exposedDevelopmentFeatures(loadConfig({ HOST: '::1' }))).toEqual([]);
    const production = loadConfig({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      JWT_SECRET: 'x'.repeat(32),
      SMS_GATEWAY_URL: 'http://sms',
      METRICS_TOKEN: 'm'.repeat(16),
    });
    expect(exposedDevelopmentFeatures(production)).toEqual([]);
  });
});
