/**
 * The `refreshToken` and `resume` requests of one session (protocol/signaling.ts describes both).
 * Identity checks live here; the session only swaps in what a resume gives back (its `adopt`).
 */
import type { Identity } from '../auth/accessTokens.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { RequestData, ResponseData } from '../protocol/signaling.js';
import type { ResumableState, SessionRegistry } from './sessionRegistry.js';

export type ResumeHandlers = {
  [M in 'refreshToken' | 'resume']: (data: RequestData<M>) => Promise<ResponseData[M]>;
};

export interface ResumeContext {
  identity: Identity;
  registry: SessionRegistry;
  /** Verifies a token exactly as the upgrade does (signature, expiry, device still signed in). */
  verifyToken: (token: string) => Promise<Identity>;
  /** The socket now expires with this identity's token. */
  refreshed: (identity: Identity) => void;
  /** Whether the session is in a room or entering one (a resume cannot be merged into it). */
  busy: () => boolean;
  /** Makes the claimed state this session's; replays after lastSeq once the answer is out. */
  adopt: (state: ResumableState, lastSeq: number) => ResponseData['resume'];
  /** A claimed session that cannot be taken back leaves for good. */
  expire: (state: ResumableState) => void;
}

export function resumeHandlers(ctx: ResumeContext): ResumeHandlers {
  return {
    refreshToken: async ({ token }) => {
      const next = await ctx.verifyToken(token);
      // A socket is one device's: another identity's token must not take it over.
      if (next.userId !== ctx.identity.userId || next.deviceId !== ctx.identity.deviceId)
        throw new ServiceError(ErrorCode.Forbidden, 'the new token is for another user or device', 403);
      ctx.refreshed(next);
      return { expiresAt: next.expiresAt };
    },
    resume: async ({ token, lastSeq }) => {
      if (ctx.busy()) throw new ServiceError(ErrorCode.AlreadyInRoom, 'resume before joining anything');
      const state = ctx.registry.claim(token, ctx.identity);
      if (!state.log.covers(lastSeq)) {
        // What the client missed is no longer held: it cannot be brought up to date, so the peer
        // goes (the others see it leave) and the client joins again.
        ctx.expire(state);
        throw new ServiceError(
          ErrorCode.ResumeFailed,
          'missed notifications are no longer held: join again',
          409,
          undefined,
          { reason: 'gap' },
        );
      }
      return ctx.adopt(state, lastSeq);
    },
  };
}
