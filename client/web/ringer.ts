/**
 * The sounds of ringing, made with Web Audio (no sound files to load): a ringtone for an incoming
 * call (two short two-tone bursts every 3 s) and a ringback for an outgoing one (one 425 Hz tone
 * every 4 s, as phone networks do). One context is made on first use and resumed for each ring: a
 * page may only start audio after a user gesture, and signing in or clicking "call" is one.
 */

export type RingKind = 'incoming' | 'outgoing';

interface Pattern {
  /** Tones of one cycle: start (s into the cycle), length (s), frequencies (Hz). */
  tones: { at: number; length: number; hz: number[] }[];
  period: number;
  gain: number;
}

const PATTERNS: Record<RingKind, Pattern> = {
  incoming: {
    tones: [
      { at: 0, length: 0.4, hz: [440, 480] },
      { at: 0.6, length: 0.4, hz: [440, 480] },
    ],
    period: 3,
    gain: 0.15,
  },
  outgoing: { tones: [{ at: 0, length: 1, hz: [425] }], period: 4, gain: 0.08 },
};

export class Ringer {
  #context: AudioContext | undefined;
  #kind: RingKind | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Oscillators scheduled for the current cycle, stopped at once when the ringing stops. */
  readonly #scheduled = new Set<OscillatorNode>();

  /** What rings now (the tests read it through window.callApp). */
  get ringing(): RingKind | undefined {
    return this.#kind;
  }

  /** The audio context's state: 'running' once the browser lets the page play sound. */
  get audioState(): AudioContextState | 'none' {
    return this.#context?.state ?? 'none';
  }

  start(kind: RingKind): void {
    if (this.#kind === kind) return;
    this.stop();
    this.#kind = kind;
    const context = (this.#context ??= new AudioContext());
    // Blocked without a user gesture (autoplay policy): the notification and title still tell.
    void context.resume().catch(() => undefined);
    const pattern = PATTERNS[kind];
    this.#cycle(context, pattern);
    this.#timer = setInterval(() => this.#cycle(context, pattern), pattern.period * 1000);
  }

  stop(): void {
    this.#kind = undefined;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const osc of this.#scheduled) {
      try {
        osc.stop();
      } catch {
        // never started
      }
    }
    this.#scheduled.clear();
  }

  #cycle(context: AudioContext, pattern: Pattern): void {
    const t0 = context.currentTime + 0.05;
    for (const tone of pattern.tones) {
      const gain = context.createGain();
      gain.connect(context.destination);
      // A short ramp in and out: no clicks at the tone's edges.
      gain.gain.setValueAtTime(0, t0 + tone.at);
      gain.gain.linearRampToValueAtTime(pattern.gain, t0 + tone.at + 0.02);
      gain.gain.setValueAtTime(pattern.gain, t0 + tone.at + tone.length - 0.02);
      gain.gain.linearRampToValueAtTime(0, t0 + tone.at + tone.length);
      for (const hz of tone.hz) {
        const osc = context.createOscillator();
        osc.frequency.value = hz;
        osc.connect(gain);
        osc.start(t0 + tone.at);
        osc.stop(t0 + tone.at + tone.length);
        this.#scheduled.add(osc);
        osc.addEventListener('ended', () => {
          this.#scheduled.delete(osc);
          gain.disconnect();
        });
      }
    }
  }
}
