/**
 * The `call…` requests of one session: each hands the caller's identity to the CallService (which
 * owns every call decision) and answers. Joining and leaving the call's media room go back through
 * the session, which owns the one room a socket may be in.
 */
import type { Identity } from '../auth/accessTokens.js';
import type {
  CallView,
  Method,
  NotificationData,
  NotificationName,
  RequestData,
  ResponseData,
} from '../protocol/signaling.js';
import type { CallService } from '../calls/callService.js';
import type { Logger } from '../lib/logger.js';
import type { MediaSetup } from '../rooms/peer.js';

type CallMethod = Extract<Method, `call${string}`>;
export type CallHandlers = { [M in CallMethod]: (data: RequestData<M>) => Promise<ResponseData[M]> };

export interface CallSessionContext {
  identity: Identity;
  calls: CallService;
  log: Logger;
  /** Enters the call's media room (the session's one room), or reveals the warm peer there. */
  joinMedia: (callId: string, setup: MediaSetup | undefined) => Promise<ResponseData['callJoinMedia']>;
  /** Enters the call's media room as a hidden peer, warming up while it rings. */
  warmMedia: (callId: string, setup: MediaSetup) => Promise<ResponseData['callWarmMedia']>;
  /** Reveals this device's warm-up of the call, if it has one (not awaited: see the session). */
  revealWarm: (callId: string) => void;
  /** Leaves the call's media room if the session is in it. */
  leaveMedia: (callId: string) => void;
}

export function callHandlers(ctx: CallSessionContext): CallHandlers {
  const { identity, calls } = ctx;
  return {
    callInvite: async ({ userIds, media }) => ({ call: await calls.invite(identity, userIds, media) }),
    callRinging: ({ callId }) => done(calls.ringing(identity, callId)),
    callAccept: async ({ callId }) => {
      const call = await calls.accept(identity, callId);
      // Answered on this device: its warm-up joins the room now, a round trip before the client's
      // own callJoinMedia would reveal it (which then just confirms).
      ctx.revealWarm(callId);
      return { call };
    },
    // Declining or cancelling also drops this device's warm-up of the call, if it has one.
    callDecline: async ({ callId }) => {
      await calls.decline(identity, callId);
      ctx.leaveMedia(callId);
      return {};
    },
    callCancel: async ({ callId }) => {
      await calls.cancel(identity, callId);
      ctx.leaveMedia(callId);
      return {};
    },
    callHangup: async ({ callId }) => {
      await calls.hangup(identity, callId);
      ctx.leaveMedia(callId);
      return {};
    },
    callAddParticipants: async ({ callId, userIds }) => ({
      call: await calls.addParticipants(identity, callId, userIds),
    }),
    callJoinMedia: async ({ callId, mediaSetup }) => {
      // Only a participant who answered on this device gets into the call's room; media counts as
      // connected only once the join really happened.
      await calls.assertMayJoinMedia(identity, callId);
      const joined = await ctx.joinMedia(callId, mediaSetup);
      // Recorded after the answer goes out (the answer must not wait); it only feeds the media
      // timeout, so a failure here is logged, not returned.
      calls.mediaJoined(identity, callId).catch((error: unknown) => {
        ctx.log.warn('cannot record media joined', { error, callId });
      });
      return joined;
    },
    callWarmMedia: async ({ callId, mediaSetup }) => {
      await calls.assertMayWarmMedia(identity, callId);
      return ctx.warmMedia(callId, mediaSetup);
    },
    callGet: async ({ callId }) => ({ call: await calls.get(identity, callId) }),
    callHistory: async ({ limit }) => calls.history(identity, limit ?? 50),
    callHistorySeen: () => done(calls.historySeen(identity)),
  };
}

/** Starts delivering this device's call messages to its socket; returns the detach function. */
export function deliverCalls(opts: {
  identity: Identity;
  calls: CallService;
  /** Sends one notification on the session (numbered like every other). */
  notify: <N extends NotificationName>(name: N, data: NotificationData[N]) => void;
  /** The device was signed out or revoked: it must not keep a live connection (or a call). */
  revoked: () => void;
  /**
   * A call ended, or is over for this device (answered on another one, declined, missed): its media
   * room (or this device's warm-up in it) goes, on whichever node this session holds it.
   */
  callEnded: (callId: string) => void;
  /** A call this user placed is active (someone answered): the caller's device may reveal its warm-up. */
  callActive: (callId: string) => void;
}): Promise<() => void> {
  return opts.calls.attach({
    userId: opts.identity.userId,
    deviceId: opts.identity.deviceId,
    deliver: (m) => {
      if (m.notification === 'deviceRevoked') return opts.revoked();
      opts.notify(m.notification, m.data as never);
      if (m.notification === 'callAnsweredElsewhere')
        return opts.callEnded((m.data as { callId: string }).callId);
      const call = m.notification === 'callUpdated' ? (m.data as { call: CallView }).call : undefined;
      const mine = call?.participants.find((p) => p.userId === opts.identity.userId)?.state;
      if (call && (call.state === 'ended' || mine === 'declined' || mine === 'missed'))
        opts.callEnded(call.callId);
      else if (call?.state === 'active' && call.callerId === opts.identity.userId)
        opts.callActive(call.callId);
    },
  });
}

/** Answers an empty success once `p` settled (for requests whose result is only "done"). */
export async function done(p: Promise<unknown>): Promise<Record<string, never>> {
  await p;
  return {};
}
