/**
 * Counts open sockets per user, per device and per client address, so that one token (or one
 * address) cannot take every slot of WS_MAX_CONNECTIONS. A slot is reserved as soon as the token is
 * verified — before the device check awaits the store — so concurrent upgrades cannot all slip past
 * the count; the caller releases it when the upgrade fails or the socket closes.
 */
export type SocketLimitName = 'sockets_per_user' | 'sockets_per_device' | 'sockets_per_ip';

export interface SocketLimits {
  perUser: number;
  perDevice: number;
  perIp: number;
}

export class ConnectionLimits {
  readonly #limits: SocketLimits;
  readonly #counts = {
    sockets_per_user: new Map<string, number>(),
    sockets_per_device: new Map<string, number>(),
    sockets_per_ip: new Map<string, number>(),
  } satisfies Record<SocketLimitName, Map<string, number>>;

  constructor(limits: SocketLimits) {
    this.#limits = limits;
  }

  /**
   * Reserves one slot for each key, or none: returns a release function (call it exactly once), or
   * the name of the first limit that is full.
   */
  acquire(keys: { userId: string; deviceId: string; address: string }): (() => void) | SocketLimitName {
    const wanted: [SocketLimitName, string, number][] = [
      ['sockets_per_ip', keys.address, this.#limits.perIp],
      ['sockets_per_user', keys.userId, this.#limits.perUser],
      // A device id is only unique within its user.
      ['sockets_per_device', `${keys.userId}/${keys.deviceId}`, this.#limits.perDevice],
    ];
    for (const [name, key, max] of wanted) {
      if ((this.#counts[name].get(key) ?? 0) >= max) return name;
    }
    for (const [name, key] of wanted) this.#counts[name].set(key, (this.#counts[name].get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const [name, key] of wanted) {
        const left = (this.#counts[name].get(key) ?? 1) - 1;
        if (left <= 0) this.#counts[name].delete(key);
        else this.#counts[name].set(key, left);
      }
    };
  }
}
