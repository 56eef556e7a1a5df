/**
 * The pure parts of resume and token refresh: the per-session notification log (numbering, what a
 * resume can replay, when it cannot) and when the SDK refreshes a token in-band.
 */
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { refreshDelayMs } from '../client/sdk/tokenRefresh.js';
import { NotificationLog } from '../signaling/notificationLog.js';

const parse = (text: string): { notification: string; seq: number } =>
  JSON.parse(text) as { notification: string; seq: number };

describe('NotificationLog', () => {
  it('numbers notifications from 1 and sends them live while attached', () => {
    const sent: string[] = [];
    const log = new NotificationLog((t) => sent.push(t));
    log.send('peerLeft', { peerId: 'a' });
    log.send('activeSpeaker', { peerId: null });
    expect(sent.map(parse).map((n) => [n.notification, n.seq])).toEqual([
      ['peerLeft', 1],
      ['activeSpeaker', 2],
    ]);
    expect(log.lastSeq).toBe(2);
  });

  it('keeps what is sent while detached and replays only what follows lastSeq, then goes live', () => {
    const log = new NotificationLog();
    for (let i = 0; i < 5; i++) log.send('peerLeft', { peerId: `p${i}` });
    const sent: string[] = [];
    expect(log.covers(3)).toBe(true);
    expect(log.attach((t) => sent.push(t), 3)).toBe(2);
    log.send('peerLeft', { peerId: 'p5' });
    expect(sent.map(parse).map((n) => n.seq)).toEqual([4, 5, 6]);
  });

  it('cannot cover a gap: dropped by the bound, or a lastSeq it never sent', () => {
    const log = new NotificationLog(undefined, 3);
    for (let i = 0; i < 6; i++) log.send('peerLeft', { peerId: `p${i}` });
    // Holds 4..6: a client that saw 3 misses nothing held back; one that saw 2 misses 3.
    expect(log.covers(3)).toBe(true);
    expect(log.covers(2)).toBe(false);
    expect(log.covers(6)).toBe(true);
    expect(log.covers(7)).toBe(false);
    expect(new NotificationLog().covers(0)).toBe(true);
  });
});

describe('refreshDelayMs', () => {
  const token = (lifetimeS: number, iatOffsetS = 0): string => {
    const iat = Math.floor(Date.now() / 1000) - iatOffsetS;
    return jwt.sign({ sub: 'u', iat, exp: iat + lifetimeS }, 'k'.repeat(32));
  };

  it('refreshes a 10-minute token a minute before it expires', () => {
    const now = Date.now();
    const t = token(600);
    const exp = (jwt.decode(t) as { exp: number }).exp * 1000;
    expect(exp - (now + refreshDelayMs(t, now)!)).toBe(60_000);
  });

  it('refreshes a 20-second token 5 seconds ahead, and a nearly expired one halfway through what is left', () => {
    const now = Date.now();
    const t = token(20);
    const exp = (jwt.decode(t) as { exp: number }).exp * 1000;
    expect(exp - (now + refreshDelayMs(t, now)!)).toBe(5_000);
    const late = token(20, 16);
    const lateExp = (jwt.decode(late) as { exp: number }).exp * 1000;
    expect(refreshDelayMs(late, now)).toBe((lateExp - now) / 2);
  });

  it('has nothing to schedule for a token without expiry or not a JWT', () => {
    expect(refreshDelayMs(jwt.sign({ sub: 'u' }, 'k'.repeat(32), { noTimestamp: true }))).toBeNull();
    expect(refreshDelayMs('opaque')).toBeNull();
  });
});
