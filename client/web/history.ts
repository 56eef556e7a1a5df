/** The call history: newest first, missed calls marked; opening it marks them seen. */
import type { CallClient, CallHistoryEntry, CallMedia } from '@calling/sdk';
import { duration, mediaWord, nameList, outcomeText } from './callText.js';
import { $, showError } from './dom.js';
import { describeError } from './messages.js';

export class HistoryView {
  readonly #list = $<HTMLUListElement>('historyList');
  readonly #error = $('historyError');
  readonly #badge = $('missedBadge');
  readonly #onCall: (userIds: string[], media: CallMedia) => void;
  #calls: CallClient | undefined;
  #open = false;
  #loading: Promise<void> | undefined;
  #again = false;

  constructor(onCall: (userIds: string[], media: CallMedia) => void) {
    this.#onCall = onCall;
  }

  /** The call client to read from (undefined when signed out). */
  use(calls: CallClient | undefined): void {
    this.#calls = calls;
    if (!calls) {
      this.#list.replaceChildren();
      this.showBadge(0);
    } else void this.refresh();
  }

  /** The screen is visible: load it and mark missed calls seen. */
  async open(): Promise<void> {
    this.#open = true;
    await this.refresh();
  }

  close(): void {
    this.#open = false;
  }

  /** Reloads the list and the unseen-missed badge (coalesces overlapping calls). */
  refresh(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = this.#load().finally(() => {
      this.#loading = undefined;
      if (this.#again) {
        this.#again = false;
        void this.refresh();
      }
    });
    return this.#loading;
  }

  showBadge(count: number): void {
    this.#badge.hidden = count <= 0;
    this.#badge.textContent = count > 0 ? String(count) : '';
    this.#badge.setAttribute('aria-label', `${count} unseen missed call${count === 1 ? '' : 's'}`);
  }

  async #load(): Promise<void> {
    const calls = this.#calls;
    if (!calls) return;
    try {
      const { entries, missedUnseen } = await calls.history(50);
      if (calls !== this.#calls) return;
      this.#render(entries);
      showError(this.#error, '');
      if (this.#open && missedUnseen > 0) {
        await calls.markHistorySeen();
        this.showBadge(0);
      } else this.showBadge(missedUnseen);
    } catch (err) {
      if (this.#open) showError(this.#error, describeError(err));
    }
  }

  #render(entries: CallHistoryEntry[]): void {
    this.#list.replaceChildren(...entries.map((e) => this.#item(e)));
    $('historyEmpty').hidden = entries.length > 0;
  }

  #item(e: CallHistoryEntry): HTMLLIElement {
    const li = document.createElement('li');
    li.className = `history-entry ${e.direction}${e.missed ? ' missed' : ''}`;
    li.dataset.callId = e.callId;
    li.dataset.outcome = e.outcome;
    li.dataset.direction = e.direction;
    li.dataset.missed = String(e.missed);
    const main = document.createElement('div');
    main.className = 'history-main';
    const who = document.createElement('span');
    who.className = 'history-who';
    who.textContent = nameList(e.others.map((o) => o.name));
    const outcome = document.createElement('span');
    outcome.className = 'history-outcome';
    outcome.textContent = outcomeText(e);
    main.append(who, ' ', outcome);
    const meta = document.createElement('div');
    meta.className = 'history-meta';
    const kind = document.createElement('span');
    kind.className = 'history-kind';
    kind.textContent = `${e.direction === 'outgoing' ? '↗ Outgoing' : '↙ Incoming'} ${mediaWord(e.media)}`;
    const when = document.createElement('time');
    when.className = 'history-when';
    when.dateTime = new Date(e.startedAt).toISOString();
    when.textContent = new Date(e.startedAt).toLocaleString();
    const length = document.createElement('span');
    length.className = 'history-duration';
    length.dataset.seconds = String(e.durationSeconds);
    length.textContent = e.durationSeconds > 0 ? duration(e.durationSeconds) : '';
    meta.append(kind, ' · ', when, ...(e.durationSeconds > 0 ? [' · ', length] : [length]));
    const again = document.createElement('button');
    again.type = 'button';
    again.className = 'history-call';
    again.textContent = 'Call';
    again.setAttribute('aria-label', `Call ${who.textContent} again (${mediaWord(e.media)})`);
    again.addEventListener('click', () =>
      this.#onCall(
        e.others.map((o) => o.userId),
        e.media,
      ),
    );
    li.append(main, meta, again);
    return li;
  }
}
