/** The bots' invite relay: guests get their room's invite once its creator shares it, or its failure. */
import { describe, expect, it } from 'vitest';
import { RoomInviteRelay } from '../bot/runner/roomInviteRelay.js';

describe('room invite relay', () => {
  it('hands a room its creator’s invite, to guests waiting before and after it was shared', async () => {
    const relay = new RoomInviteRelay();
    const early = relay.wait('r1');
    expect(relay.settled('r1')).toBe(false);
    relay.share('r1', 'inv-1');
    relay.share('r1', 'inv-late'); // a creator's rejoin does not replace it
    expect(relay.settled('r1')).toBe(true);
    await expect(early).resolves.toBe('inv-1');
    await expect(relay.wait('r1')).resolves.toBe('inv-1');
    // Rooms are independent.
    expect(relay.settled('r2')).toBe(false);
  });

  it('fails the guests of a room whose creator could not get in', async () => {
    const relay = new RoomInviteRelay();
    const waiting = relay.wait('r1');
    relay.fail('r1', new Error('join timed out'));
    await expect(waiting).rejects.toMatchObject({ code: 'JOIN_FAILED', message: /creating room r1/ });
    await expect(relay.wait('r1')).rejects.toMatchObject({ code: 'JOIN_FAILED' });
    // Failing a room nobody waits for yet raises no unhandled rejection.
    relay.fail('r2', new Error('no token'));
    relay.share('r3', undefined);
    await expect(relay.wait('r3')).resolves.toBeUndefined();
  });
});
