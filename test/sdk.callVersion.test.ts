/**
 * A call object keeps the newest server view it has seen: a CallView with a lower version (a
 * notification overtaken by a newer one, e.g. from another node) changes nothing. A unit test on
 * top of the browser call tests, which cannot order notifications at will.
 */
import { describe, expect, it } from 'vitest';
import { OutgoingCall, type CallHost } from '../client/sdk/call.js';
import { APPLY } from '../client/sdk/callTypes.js';
import type { CallView } from '../protocol/signaling.js';

// A call that is still ringing touches the network only through its warm-up (enterMedia, refused
// here: the warm-up then gives up quietly), so the host only records.
const requests: string[] = [];
const host: CallHost = {
  userId: 'alice',
  deviceOptions: undefined,
  simulcast: true,
  request: (method) => {
    requests.push(method);
    return Promise.reject(new Error(`unexpected request ${method}`));
  },
  enterMedia: () => Promise.reject(new Error('no media while ringing')),
  getUserMedia: () => Promise.reject(new Error('no media while ringing')),
  mayWarmIncoming: () => Promise.resolve(false),
  ended: () => undefined,
};
// No tracks: the call only enables/disables whatever tracks the stream has.
const noTracks = {
  getTracks: () => [],
  getAudioTracks: () => [],
  getVideoTracks: () => [],
} as unknown as MediaStream;

function view(version: number, bobRinging: number): CallView {
  return {
    callId: 'c1',
    version,
    callerId: 'alice',
    media: 'audio',
    state: 'ringing',
    createdAt: 1,
    answeredAt: null,
    endedAt: null,
    endReason: null,
    participants: [
      { userId: 'alice', name: 'Alice', photo: null, state: 'joined', ringingDevices: 0 },
      { userId: 'bob', name: 'Bob', photo: null, state: 'ringing', ringingDevices: bobRinging },
    ],
  };
}

describe('CallView versions in the SDK', () => {
  it('applies newer views and ignores older ones', () => {
    const call = new OutgoingCall(host, view(1, 0), noTracks);
    const changes: number[] = [];
    call.on('participantsChanged', (ps) => changes.push(ps[0]!.ringingDevices));

    call[APPLY](view(3, 2));
    expect(call.view.version).toBe(3);
    expect(call.participants[0]!.ringingDevices).toBe(2);

    // Version 2 was sent before version 3 but arrives after it.
    call[APPLY](view(2, 1));
    expect(call.view.version).toBe(3);
    expect(call.participants[0]!.ringingDevices).toBe(2);

    call[APPLY](view(4, 3));
    expect(call.participants[0]!.ringingDevices).toBe(3);
    expect(changes).toEqual([2, 3]);
    expect(requests).toEqual([]);
  });
});
