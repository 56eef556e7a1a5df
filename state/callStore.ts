/**
 * Calls, who currently "has" a call (for busy detection and glare), call history and missed-call
 * counters. Writes are compare-and-set on the call's version, with each participant's
 * current-call pointer updated in the same atomic step, so two devices accepting at the same
 * instant cannot both win.
 */
import type { CallRecord } from '../calls/callRecord.js';

export interface PointerExpectation {
  userId: string;
  /** The call id the pointer must hold for the write to go through (null: no call). */
  callId: string | null;
}

export interface CallStore {
  getCall(callId: string): Promise<CallRecord | null>;
  /** userId → the call they currently have (ringing, calling or in), for those who have one. */
  currentCalls(userIds: readonly string[]): Promise<Map<string, string>>;
  /**
   * Writes `call` if the stored version is `expectedVersion` (0: the call must not exist yet) and
   * every pointer matches `expect`; then points each holding participant at the call and clears
   * the pointers of those who no longer hold it. Returns false when anything had changed.
   */
  saveCall(
    call: CallRecord,
    expectedVersion: number,
    expect: readonly PointerExpectation[],
  ): Promise<boolean>;
  /**
   * Ids of calls not ended yet (kept by saveCall), for the sweeper that ends calls whose timers died
   * with a node. May list a call that has since vanished (its key expired): forget it then.
   */
  openCalls(): Promise<string[]>;
  forgetOpenCall(callId: string): Promise<void>;
  /** Adds the call to each user's history (newest first, bounded). */
  addToHistory(userIds: readonly string[], callId: string): Promise<void>;
  history(userId: string, limit: number): Promise<CallRecord[]>;
  addMissed(userId: string): Promise<void>;
  missedUnseen(userId: string): Promise<number>;
  clearMissed(userId: string): Promise<void>;
  close(): Promise<void>;
}

export const HISTORY_LIMIT = 200;
/** Ended calls are kept this long for history. */
export const CALL_RETENTION_SECONDS = 90 * 86_400;
