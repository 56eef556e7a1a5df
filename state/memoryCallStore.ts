/**
 * The embedded call store (single node, no Redis): the CallStore contract in this process's
 * memory, checked against the Redis store by test/callStore.contract.test.ts.
 */
import { holdsCall, type CallRecord } from '../calls/callRecord.js';
import { HISTORY_LIMIT, type CallStore, type PointerExpectation } from './callStore.js';

/** The embedded call store: the CallStore contract in this process's memory. */
export class MemoryCallStore implements CallStore {
  readonly #calls = new Map<string, CallRecord>();
  readonly #pointers = new Map<string, string>();
  readonly #history = new Map<string, string[]>();
  readonly #missed = new Map<string, number>();
  readonly #open = new Set<string>();

  async openCalls(): Promise<string[]> {
    return [...this.#open];
  }

  async forgetOpenCall(callId: string): Promise<void> {
    this.#open.delete(callId);
  }

  async getCall(callId: string): Promise<CallRecord | null> {
    const c = this.#calls.get(callId);
    return c ? structuredClone(c) : null;
  }

  async currentCalls(userIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const id of userIds) {
      const callId = this.#pointers.get(id);
      if (callId) out.set(id, callId);
    }
    return out;
  }

  async saveCall(
    call: CallRecord,
    expectedVersion: number,
    expect: readonly PointerExpectation[],
  ): Promise<boolean> {
    if ((this.#calls.get(call.callId)?.version ?? 0) !== expectedVersion) return false;
    for (const e of expect) if ((this.#pointers.get(e.userId) ?? null) !== e.callId) return false;
    this.#calls.set(call.callId, structuredClone(call));
    if (call.state === 'ended') this.#open.delete(call.callId);
    else this.#open.add(call.callId);
    for (const userId of call.order) {
      if (holdsCall(call, userId)) this.#pointers.set(userId, call.callId);
      else if (this.#pointers.get(userId) === call.callId) this.#pointers.delete(userId);
    }
    return true;
  }

  async addToHistory(userIds: readonly string[], callId: string): Promise<void> {
    for (const id of userIds) {
      // Moves an entry already listed to the front, as Redis does (LREM + LPUSH).
      const list = (this.#history.get(id) ?? []).filter((c) => c !== callId);
      list.unshift(callId);
      this.#history.set(id, list.slice(0, HISTORY_LIMIT));
    }
  }

  async history(userId: string, limit: number): Promise<CallRecord[]> {
    return (this.#history.get(userId) ?? [])
      .slice(0, limit)
      .map((id) => this.#calls.get(id))
      .filter((c): c is CallRecord => c !== undefined)
      .map((c) => structuredClone(c));
  }

  async addMissed(userId: string): Promise<void> {
    this.#missed.set(userId, (this.#missed.get(userId) ?? 0) + 1);
  }

  async missedUnseen(userId: string): Promise<number> {
    return this.#missed.get(userId) ?? 0;
  }

  async clearMissed(userId: string): Promise<void> {
    this.#missed.delete(userId);
  }

  async close(): Promise<void> {}
}
