import type { CallEndReason, CallMedia, CallParticipantState, CallState } from '../protocol/signaling.js';

export interface CallParticipantRecord {
  state: CallParticipantState;
  /** The device that answered (or placed) the call. */
  deviceId: string | null;
  /** Devices that confirmed they are ringing. */
  ringingDevices: string[];
  joinedAt: number | null;
  leftAt: number | null;
  /** When this person's media first reached the call's room. */
  mediaJoinedAt: number | null;
}

/** The authoritative state of one call, stored as a whole and replaced by compare-and-set. */
export interface CallRecord {
  callId: string;
  callerId: string;
  media: CallMedia;
  state: CallState;
  createdAt: number;
  /** When the ringing stops if nobody answers. */
  ringDeadline: number;
  answeredAt: number | null;
  endedAt: number | null;
  endReason: CallEndReason | null;
  /** userId → participant; `order` keeps invitation order (caller first). */
  participants: Record<string, CallParticipantRecord>;
  order: string[];
  /**
   * Callees who blocked whoever rang them: recorded as 'busy' (so the caller cannot tell them from
   * someone in another call) and never told about the call — no ring, no update, no history entry.
   * Absent when empty (records written before block lists have none).
   */
  silenced?: string[];
  /** Incremented on every change; stores only accept a write based on the version they hold. */
  version: number;
}

/** States in which a person still "has" the call (and so is busy for anyone else). */
export const HOLDING_STATES: ReadonlySet<CallParticipantState> = new Set(['calling', 'ringing', 'joined']);

export function holdsCall(call: CallRecord, userId: string): boolean {
  const p = call.participants[userId];
  return call.state !== 'ended' && p !== undefined && HOLDING_STATES.has(p.state);
}

/** Who must hear nothing of this call (see CallRecord.silenced). */
export function silencedIn(call: CallRecord): ReadonlySet<string> {
  // A JSON round trip through Lua may turn an empty array into an object: read defensively.
  return new Set(Array.isArray(call.silenced) ? call.silenced : []);
}
