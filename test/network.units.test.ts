/**
 * The pure parts of the network work, without a network: TURN REST credentials (checked against
 * openssl's HMAC, an implementation that is not ours), TURN configuration errors, and how the
 * connection-quality tracker turns the SFU's scores, forwarded layers and client stats into levels.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { turnCredentials } from '../auth/turnCredentials.js';
import { ConfigError, loadConfig } from '../server/config.js';
import { QualityTracker, qualityOfScore, type ConnectionQuality } from '../client/sdk/connectionQuality.js';

describe('TURN REST credentials', () => {
  it('are "<expiry>:<userId>" with base64(HMAC-SHA1(secret, username)) as the password', () => {
    const secret = 'turn-shared-secret-0123456789';
    const now = Date.UTC(2026, 11, 1, 12, 0, 0);
    const c = turnCredentials({ urls: ['turn:10.0.0.1:3478'], secret, ttlSeconds: 600 }, 'user-1', now);
    expect(c.username).toBe(`${now / 1000 + 600}:user-1`);
    expect(c.urls).toEqual(['turn:10.0.0.1:3478']);
    const openssl = execFileSync('openssl', ['dgst', '-sha1', '-hmac', secret, '-binary'], {
      input: c.username,
    }).toString('base64');
    expect(c.credential).toBe(openssl);
  });

  it('are configured by TURN_URLS + TURN_SECRET together, with a clear error otherwise', () => {
    const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig(base).turn).toBeUndefined();
    const turn = loadConfig({
      ...base,
      TURN_URLS:
        'turn:turn.example:3478?transport=udp, turn:turn.example:3478?transport=tcp,turns:turn.example:5349',
      TURN_SECRET: 's'.repeat(16),
    }).turn;
    expect(turn?.urls).toHaveLength(3);
    expect(turn?.ttlSeconds).toBe(3600);
    expect(() => loadConfig({ ...base, TURN_URLS: 'turn:a:3478' })).toThrow(/TURN_SECRET is required/);
    expect(() => loadConfig({ ...base, TURN_SECRET: 's'.repeat(16) })).toThrow(/TURN_URLS: required/);
    expect(() => loadConfig({ ...base, TURN_URLS: 'http://a', TURN_SECRET: 's'.repeat(16) })).toThrow(
      ConfigError,
    );
    expect(() =>
      loadConfig({
        ...base,
        TURN_URLS: 'turn:a',
        TURN_SECRET: 's'.repeat(16),
        TURN_CREDENTIAL_TTL_SECONDS: '5',
      }),
    ).toThrow(/TURN_CREDENTIAL_TTL_SECONDS/);
  });
});

describe('connection quality', () => {
  function tracker(): { t: QualityTracker; changes: [string, ConnectionQuality][] } {
    const changes: [string, ConnectionQuality][] = [];
    const t = new QualityTracker({ selfId: () => 'me', onChange: (p, q) => changes.push([p, q]) });
    return { t, changes };
  }

  it('maps mediasoup scores to levels', () => {
    expect([10, 9, 8, 7, 6, 1, 0].map(qualityOfScore)).toEqual([
      'excellent',
      'excellent',
      'good',
      'good',
      'poor',
      'poor',
      'lost',
    ]);
  });

  it('rates a remote peer by its streams at the SFU and itself by the worse of both legs', () => {
    const { t, changes } = tracker();
    t.consumer('c1', 'bob');
    t.consumerScore('c1', 10, 10);
    expect(t.all()).toEqual(
      new Map([
        ['bob', 'excellent'],
        ['me', 'excellent'],
      ]),
    );
    t.consumerScore('c1', 10, 5);
    expect(t.quality('bob')).toBe('poor');
    expect(t.quality('me')).toBe('excellent');
    t.producerScore('p1', 7);
    expect(t.quality('me')).toBe('good');
    t.consumerScore('c1', 0, 0);
    expect(t.quality('bob')).toBe('lost');
    expect(t.quality('me')).toBe('lost');
    // Only changes are reported.
    expect(changes.filter(([p]) => p === 'bob').map(([, q]) => q)).toEqual(['excellent', 'poor', 'lost']);
  });

  it('reads the lowest forwarded layer of three as poor, and a lost link as lost', () => {
    const { t } = tracker();
    t.consumer('v', 'bob');
    t.consumerScore('v', 10, 10);
    t.consumerLayers('v', 2, 3);
    expect(t.quality('me')).toBe('excellent');
    t.consumerLayers('v', 1, 3);
    expect(t.quality('me')).toBe('good');
    t.consumerLayers('v', 0, 3);
    expect(t.quality('me')).toBe('poor');
    // The sender stopped its top layer (as Chromium does at 640×480): layer 1 is then the best there is.
    t.consumerScore('v', 10, 10, [10, 10, 0]);
    t.consumerLayers('v', 1, 3);
    expect(t.quality('me')).toBe('excellent');
    t.consumerLayers('v', 0, 3);
    expect(t.quality('me')).toBe('poor');
    t.linkLost(true);
    expect(t.quality('me')).toBe('lost');
    t.linkLost(false);
    expect(t.quality('me')).toBe('poor');
  });

  it('does not read a paused producer (camera off: no layer forwarded) as a poor link', () => {
    const { t } = tracker();
    t.consumer('v', 'bob', 'bobCam');
    t.consumerScore('v', 10, 10);
    t.consumerLayers('v', 2, 3);
    // Bob turns his camera off: the SFU forwards no layer (null) because he paused, not because of us.
    t.producerPaused('bobCam', true);
    t.consumerLayers('v', null, 3);
    expect(t.quality('me')).toBe('excellent');
    // Another producer's pause changes nothing here; Bob's camera back on at the lowest layer is poor again.
    t.producerPaused('other', false);
    t.producerPaused('bobCam', false);
    t.consumerLayers('v', 0, 3);
    expect(t.quality('me')).toBe('poor');
    // A null layer while nothing is paused still means our link carries no layer at all.
    t.consumerLayers('v', null, 3);
    expect(t.quality('me')).toBe('poor');
    // Known paused from the join on (the consumer is created paused).
    const late = tracker();
    late.t.consumer('v2', 'carol', 'carolCam', true);
    late.t.consumerScore('v2', 10, 10);
    late.t.consumerLayers('v2', null, 3);
    expect(late.t.quality('me')).toBe('excellent');
  });

  it("caps its own level by the client's measured loss and round-trip time", () => {
    const { t } = tracker();
    t.clientSample({ inboundLoss: 0.15 });
    expect(t.quality('me')).toBe('poor');
    t.clientSample({ inboundLoss: 0.05, rttSeconds: 0.05 });
    expect(t.quality('me')).toBe('good');
    t.clientSample({ inboundLoss: 0, rttSeconds: 0.5 });
    expect(t.quality('me')).toBe('poor');
    t.clientSample({ inboundLoss: 0, rttSeconds: 0.01 });
    expect(t.quality('me')).toBe('excellent');
    t.peerGone('bob');
    t.reset();
    expect(t.all().size).toBe(0);
  });
});
