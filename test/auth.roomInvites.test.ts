/** Invite links: round trip, and every way a forged, altered or stale invite is refused. */
import { describe, expect, it } from 'vitest';
import { RoomInvites } from '../auth/roomInvites.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';

const key = Buffer.alloc(32, 7);

function refusal(fn: () => unknown): ServiceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    return err as ServiceError;
  }
  throw new Error('expected a refusal');
}

describe('room invites', () => {
  it('round-trips the room and expiry', () => {
    let now = 1_000_000_000_000;
    const invites = new RoomInvites({ key, now: () => now });
    const { token, expiresAt } = invites.create('standup', 3600);
    expect(expiresAt).toBe(1_000_000_000 + 3600);
    expect(invites.verify(token)).toEqual({ room: 'standup', expiresAt });
    now += 3_599_000;
    expect(invites.verify(token).room).toBe('standup');
  });

  it('refuses an expired invite with a message a person understands', () => {
    let now = 1_000_000_000_000;
    const invites = new RoomInvites({ key, now: () => now });
    const { token } = invites.create('standup', 60);
    now += 60_000;
    const e = refusal(() => invites.verify(token));
    expect(e.code).toBe(ErrorCode.Forbidden);
    expect(e.message).toMatch(/expired/);
  });

  it('refuses an invite signed with another key, altered, or malformed', () => {
    const ours = new RoomInvites({ key });
    const theirs = new RoomInvites({ key: Buffer.alloc(32, 8) });
    const { token } = theirs.create('standup', 60);
    expect(refusal(() => ours.verify(token)).code).toBe(ErrorCode.Forbidden);

    const good = ours.create('standup', 60).token;
    const [v, payload, mac] = good.split('.') as [string, string, string];
    const otherRoom = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), r: 'secret' }),
    ).toString('base64url');
    for (const bad of [
      `${v}.${otherRoom}.${mac}`,
      `v2.${payload}.${mac}`,
      `${v}.${payload}`,
      `${good}.extra`,
      '',
      'x'.repeat(10_000),
      `${v}.${Buffer.from('not json').toString('base64url')}.${mac}`,
    ]) {
      expect(refusal(() => ours.verify(bad)).code).toBe(ErrorCode.Forbidden);
    }
  });

  it('needs a key of at least 32 bytes', () => {
    expect(() => new RoomInvites({ key: Buffer.alloc(16) })).toThrow(/32 bytes/);
  });
});
