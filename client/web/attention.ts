/**
 * Getting a person's attention for a ringing call when they look elsewhere: the tab title flashes
 * ("📞 Alice is calling" / the page title) and, while the tab is hidden, a system notification
 * (Notification API) that brings the tab forward when clicked. Permission is asked at a sensible
 * moment — when the person places or answers their first call, a user gesture that shows intent —
 * never on page load.
 */

export class Attention {
  readonly #title = document.title;
  #flashTimer: ReturnType<typeof setInterval> | undefined;
  #notification: Notification | undefined;
  /** What rings now, so a tab hidden while it rings still notifies. */
  #ringing: { title: string; body: string } | undefined;
  /** Notifications raised so far (the tests read it through window.callApp). */
  notified = 0;

  constructor() {
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden' && this.#ringing && !this.#notification)
        this.#notify(this.#ringing.title, this.#ringing.body);
    });
  }

  /** Asks for notification permission once, from a user gesture. */
  askPermission(): void {
    if (typeof Notification === 'undefined' || Notification.permission !== 'default') return;
    void Notification.requestPermission().catch(() => undefined);
  }

  /** Flashes `message` in the title; notifies too while the tab is hidden. */
  ring(message: string, body: string): void {
    // Called on every render while it rings: one flash timer and one notification per call.
    if (this.#ringing?.title === message && this.#ringing.body === body) return;
    this.stop();
    this.#ringing = { title: message, body };
    let on = true;
    document.title = message;
    this.#flashTimer = setInterval(() => {
      on = !on;
      document.title = on ? message : this.#title;
    }, 1000);
    if (document.visibilityState === 'hidden') this.#notify(message, body);
  }

  stop(): void {
    this.#ringing = undefined;
    clearInterval(this.#flashTimer);
    this.#flashTimer = undefined;
    document.title = this.#title;
    this.#notification?.close();
    this.#notification = undefined;
  }

  #notify(title: string, body: string): void {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    try {
      const n = new Notification(title, { body, tag: 'incoming-call', requireInteraction: true });
      n.addEventListener('click', () => {
        window.focus();
        n.close();
      });
      this.#notification = n;
      this.notified++;
    } catch (err) {
      // Some browsers allow notifications only from a service worker: the title still flashes.
      console.warn('no notification', err);
    }
  }
}
