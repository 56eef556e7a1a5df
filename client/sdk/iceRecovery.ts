/**
 * What a media transport does when its ICE connection breaks while the signaling socket may be fine
 * (issue 10 item 3): the path to the SFU changed or a firewall dropped it, the socket survived.
 *
 *   connected ──(disconnected | failed)──► probe the socket ──alive──► restartIce (new credentials)
 *                                               └──dead──► nothing here: the connection resumes and
 *                                                          the session restarts ICE after the resume
 *   still not connected every `retryEveryMs` ──► probe + restartIce again
 *   not connected for `giveUpAfterMs` of live signaling ──► `giveUp()`: the session enters again
 *
 * The clock only runs while the socket answers: during a signaling outage the resume owns recovery,
 * and a full rejoin through a dead socket could not work anyway.
 */

export interface IceRecoveryHooks {
  /** Whether the signaling socket answers now (a dead one is being replaced when this says false). */
  checkAlive(): Promise<boolean>;
  /** New ICE credentials from the server, applied to the transport. */
  restartIce(): Promise<void>;
  /** ICE stayed down too long with signaling up: enter the room again. */
  giveUp(): void;
}

export interface IceRecoveryOptions {
  /** Restart again while still not connected, this often (default 5 s). */
  retryEveryMs?: number;
  /** Give up after this long not connected while signaling was up (default 20 s). */
  giveUpAfterMs?: number;
}

export class IceRecovery {
  readonly #hooks: IceRecoveryHooks;
  readonly #retryEveryMs: number;
  readonly #giveUpAfterMs: number;
  /** Since when ICE has been down with the socket answering (undefined: connected, or socket down). */
  #downSince: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #stopped = false;
  #connected = false;

  constructor(hooks: IceRecoveryHooks, opts: IceRecoveryOptions = {}) {
    this.#hooks = hooks;
    this.#retryEveryMs = opts.retryEveryMs ?? 5_000;
    this.#giveUpAfterMs = opts.giveUpAfterMs ?? 20_000;
  }

  /** Feed every `connectionstatechange` of the transport. */
  onState(state: string): void {
    if (this.#stopped) return;
    if (state === 'connected' || state === 'completed') {
      this.#connected = true;
      this.#downSince = undefined;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (state === 'closed') return this.stop();
    if (state !== 'disconnected' && state !== 'failed') return;
    this.#connected = false;
    if (!this.#timer && !this.#running) void this.#attempt();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #attempt(): Promise<void> {
    this.#running = true;
    try {
      const alive = await this.#hooks.checkAlive();
      if (this.#stopped || this.#connected) return;
      if (!alive) {
        // The resume restarts ICE; a down socket must not count towards giving up.
        this.#downSince = undefined;
      } else {
        const now = Date.now();
        this.#downSince ??= now;
        if (now - this.#downSince >= this.#giveUpAfterMs) {
          this.stop();
          this.#hooks.giveUp();
          return;
        }
        await this.#hooks.restartIce();
      }
    } finally {
      this.#running = false;
    }
    if (this.#stopped || this.#connected) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#connected && !this.#stopped) void this.#attempt();
    }, this.#retryEveryMs);
  }
}
