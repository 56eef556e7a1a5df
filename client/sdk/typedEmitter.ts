/** A minimal typed event emitter that works the same in browsers and Node (bots). */
type Listener = (...args: unknown[]) => void;

export class TypedEmitter<Events extends Record<string, unknown[]>> {
  readonly #listeners = new Map<keyof Events, Set<Listener>>();

  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    // Stored type-erased; emit() only ever calls it with Events[E] for the same key.
    const erased = listener as unknown as Listener;
    set.add(erased);
    return () => set.delete(erased);
  }

  once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (err) {
        // One broken listener must not starve the others (or break signaling).
        console.error(`listener for "${String(event)}" threw`, err);
      }
    }
  }
}
