/**
 * A CallStore whose history lives in the database while live call state stays where it is fast and
 * shared (Redis, or memory when embedded). Live writes (the compare-and-set of a call and its
 * participants' current-call pointers) go to the live store first; once one is accepted, the call
 * record as saved is copied into `calls`, so history keeps each call's final state after the live
 * record expires. History entries and missed-call counters are rows of their own.
 *
 * The copy follows the accepted live write rather than sharing its transaction (two systems): a
 * crash in between leaves that call's history one state behind, never a call that did not happen.
 */
import type { CallRecord } from '../../calls/callRecord.js';
import {
  CALL_RETENTION_SECONDS,
  HISTORY_LIMIT,
  type CallStore,
  type PointerExpectation,
} from '../callStore.js';
import type { SqlDatabase } from './sqlDatabase.js';

export class SqlCallHistory implements CallStore {
  readonly #db: SqlDatabase;
  readonly #live: CallStore;
  /** Orders history entries newest first; strictly increasing even within one millisecond. */
  #lastSeq = 0;

  constructor(opts: { db: SqlDatabase; live: CallStore }) {
    this.#db = opts.db;
    this.#live = opts.live;
  }

  #nextSeq(): number {
    this.#lastSeq = Math.max(Date.now() * 1000, this.#lastSeq + 1);
    return this.#lastSeq;
  }

  getCall(callId: string): Promise<CallRecord | null> {
    return this.#live.getCall(callId);
  }

  currentCalls(userIds: readonly string[]): Promise<Map<string, string>> {
    return this.#live.currentCalls(userIds);
  }

  openCalls(): Promise<string[]> {
    return this.#live.openCalls();
  }

  forgetOpenCall(callId: string): Promise<void> {
    return this.#live.forgetOpenCall(callId);
  }

  async saveCall(
    call: CallRecord,
    expectedVersion: number,
    expect: readonly PointerExpectation[],
  ): Promise<boolean> {
    if (!(await this.#live.saveCall(call, expectedVersion, expect))) return false;
    await this.#copy(call);
    return true;
  }

  /** Keeps the newest version of the record (a late copy of an older version never wins). */
  async #copy(call: CallRecord): Promise<void> {
    await this.#db.run(
      `INSERT INTO calls (call_id, record, version) VALUES ($1, $2, $3)
       ON CONFLICT (call_id) DO UPDATE SET record = excluded.record, version = excluded.version
       WHERE excluded.version >= calls.version`,
      [call.callId, JSON.stringify(call), call.version],
    );
  }

  async addToHistory(userIds: readonly string[], callId: string): Promise<void> {
    if (userIds.length === 0) return;
    await this.#db.transaction(async (tx) => {
      for (const userId of userIds) {
        // Adding a call already listed moves it to the top, as the Redis list did.
        await tx.run(
          `INSERT INTO call_history (user_id, call_id, seq) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, call_id) DO UPDATE SET seq = excluded.seq`,
          [userId, callId, this.#nextSeq()],
        );
        await tx.run(
          `DELETE FROM call_history WHERE user_id = $1 AND call_id NOT IN (
             SELECT call_id FROM call_history WHERE user_id = $1 ORDER BY seq DESC LIMIT $2)`,
          [userId, HISTORY_LIMIT],
        );
      }
    });
  }

  async history(userId: string, limit: number): Promise<CallRecord[]> {
    const rows = await this.#db.query<{ record: unknown }>(
      `SELECT c.record FROM call_history h JOIN calls c ON c.call_id = h.call_id
       WHERE h.user_id = $1 ORDER BY h.seq DESC LIMIT $2`,
      [userId, limit],
    );
    const oldest = Date.now() - CALL_RETENTION_SECONDS * 1000;
    return rows.map((r) => JSON.parse(String(r.record)) as CallRecord).filter((c) => c.createdAt >= oldest);
  }

  async addMissed(userId: string): Promise<void> {
    await this.#db.run(
      `INSERT INTO missed_calls (user_id, unseen) VALUES ($1, 1)
       ON CONFLICT (user_id) DO UPDATE SET unseen = missed_calls.unseen + 1`,
      [userId],
    );
  }

  async missedUnseen(userId: string): Promise<number> {
    const rows = await this.#db.query('SELECT unseen FROM missed_calls WHERE user_id = $1', [userId]);
    return rows[0] ? Number(rows[0].unseen) : 0;
  }

  async clearMissed(userId: string): Promise<void> {
    await this.#db.run('DELETE FROM missed_calls WHERE user_id = $1', [userId]);
  }

  /** Closes the live store; the database is closed by whoever opened it. */
  async close(): Promise<void> {
    await this.#live.close();
  }
}
