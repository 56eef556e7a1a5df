/**
 * The public types of a call, and the symbols through which CallClient drives its calls (methods
 * keyed by symbols the SDK's index does not export, so apps cannot call them).
 */
import type { CallEndReason, CallParticipantState, UserSummary } from '../../protocol/signaling.js';

/** Why a call ended for this device. */
export type CallEndedReason =
  | CallEndReason
  /** Another of your devices answered. */
  | 'answered-elsewhere'
  /** This device could not take part (no camera/microphone, media could not connect, signed out). */
  | 'error';

export interface CallParticipant extends UserSummary {
  state: CallParticipantState;
  /** How many of this person's devices confirmed they are ringing. */
  ringingDevices: number;
  isCaller: boolean;
  /** This person's media as this device receives it; null until it arrives (or while it is off). */
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
  /** Their screen share (shown large), null when they do not share. */
  screen: MediaStreamTrack | null;
  /** The screen share's own audio (a tab's sound), where the browser offered it. */
  screenAudio: MediaStreamTrack | null;
  /** They muted their microphone (the server paused it). */
  audioMuted: boolean;
  /** They turned their camera off (paused): show their photo, not the last frame. */
  videoOff: boolean;
}

// Methods the client calls on its calls, keyed by symbols.
export const APPLY = Symbol('apply');
export const ELSEWHERE = Symbol('answeredElsewhere');
export const GLARE = Symbol('acceptedByGlare');
export const END = Symbol('end');
