/**
 * A room hosted on this node: its peers and its media router. The Room owns the room's policy —
 * who hears about a join, a leave, a new or closed producer, the active speaker — and reports what
 * must be stored through its own events. It knows no store: the RoomService persists from those
 * events (as LiveKit's RoomManager does), except a join, whose record must be stored before the
 * newcomer is announced, so `join` takes the write to await as an argument.
 * The room closes itself when the last peer leaves or its media router closes.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import type { NotificationData, NotificationName, PeerInfo, ProducerInfo } from '../protocol/signaling.js';
import { limitExceeded } from '../protocol/errors.js';
import type { MediaRoom } from '../sfu/mediaRoom.js';
import { Peer, type Notify, type PeerSnapshot } from './peer.js';

export interface RoomEvents {
  /** A producer was announced; store it. */
  producerAdded: [peerId: string, producer: ProducerInfo];
  producerRemoved: [producerId: string];
  /** A peer that had been announced is gone; remove it from the store. */
  peerLeft: [peer: Peer];
  close: [];
}

export interface RoomSnapshot {
  name: string;
  routerId: string;
  workerPid: number;
  /** Peers whose join is still being stored (not yet announced). */
  joining: number;
  /** Hidden peers warming up while the call rings (see `joinHidden`). */
  warm: number;
  peers: PeerSnapshot[];
}

export class Room extends EventEmitter<RoomEvents> {
  readonly name: string;
  readonly createdAt = Date.now();
  readonly #media: MediaRoom;
  readonly #peers = new Map<string, Peer>();
  /** Admitted but not yet announced: their membership is being written to the store. */
  readonly #joining = new Set<Peer>();
  /** Set up ahead, hidden from everyone, until revealed (a call's devices while it rings). */
  readonly #warm = new Map<string, Peer>();
  #closed = false;

  constructor(opts: { name: string; media: MediaRoom }) {
    super();
    this.name = opts.name;
    this.#media = opts.media;
    this.#media.on('activeSpeaker', (producerId) => {
      const owner = producerId ? this.#media.producerOwner(producerId) : undefined;
      this.#broadcast('activeSpeaker', { peerId: owner ?? null });
    });
    // The router went away under us (its worker died): tell everyone, then clean up.
    this.#media.once('close', () => this.close('media worker restarted'));
  }

  get closed(): boolean {
    return this.#closed;
  }
  get size(): number {
    return this.#peers.size;
  }
  get participants(): IterableIterator<Peer> {
    return this.#peers.values();
  }
  /** Hidden peers warming up. */
  get warmCount(): number {
    return this.#warm.size;
  }
  /** The hidden peers themselves (for operators and tests: their transports' state). */
  get warmPeers(): IterableIterator<Peer> {
    return this.#warm.values();
  }
  get rtpCapabilities(): types.RtpCapabilities {
    return this.#media.rtpCapabilities;
  }
  get routerId(): string {
    return this.#media.routerId;
  }
  get workerPid(): number {
    return this.#media.workerPid;
  }

  /**
   * Admits a peer: `persist` (the membership write) runs first, and only once it succeeded is the
   * peer announced and in the room. If it fails, nothing is announced or kept and its error is
   * thrown. Resolves null if the room closed meanwhile (the caller may retry on a fresh room).
   */
  async join(
    user: { userId: string; displayName: string },
    notify: Notify,
    persist: (peer: Peer) => Promise<void>,
  ): Promise<Peer | null> {
    if (this.#closed) return null;
    const peerId = randomUUID();
    const peer = new Peer({
      peerId,
      userId: user.userId,
      displayName: user.displayName,
      endpoint: this.#media.createEndpoint(peerId),
      notify,
      producerOwner: (producerId) => this.#media.producerOwner(producerId),
    });
    this.#joining.add(peer);
    try {
      await persist(peer);
    } catch (err) {
      this.#joining.delete(peer);
      peer.close();
      this.#closeIfEmpty();
      throw err;
    }
    this.#joining.delete(peer);
    if (this.#closed || peer.closed) {
      peer.close();
      return null;
    }
    this.#peers.set(peerId, peer);
    this.#attach(peer);
    this.#broadcast('peerJoined', { peerId, userId: user.userId, displayName: user.displayName }, peerId);
    return peer;
  }

  /**
   * A hidden peer: its transports and producers can be set up, but nobody is told of it, nothing of
   * it can be consumed, it receives nothing and it is not stored, until `reveal`. At most `max` per
   * room (each holds transports on the worker). Resolves null if the room closed.
   */
  joinHidden(user: { userId: string; displayName: string }, notify: Notify, max: number): Peer | null {
    if (this.#closed) return null;
    if (this.#warm.size >= max)
      throw limitExceeded('warm_peers_per_call', `at most ${max} devices may warm up for one call`);
    const peerId = randomUUID();
    const peer = new Peer({
      peerId,
      userId: user.userId,
      displayName: user.displayName,
      endpoint: this.#media.createEndpoint(peerId, { hidden: true }),
      notify,
      producerOwner: (producerId) => this.#media.producerOwner(producerId),
      hidden: true,
    });
    this.#warm.set(peerId, peer);
    // While both are hidden, the other warm peers consume this one's producers ahead (gated).
    peer.on('producer', (producer) => {
      if (!peer.hidden) return; // revealed: the room's own listener (#attach) offers it
      for (const w of this.#warm.values())
        if (aheadPair(w, peer)) void w.preConsume(peer.peerId, producer).catch(() => undefined);
    });
    peer.once('close', () => {
      if (this.#warm.get(peerId) !== peer) return;
      this.#warm.delete(peerId);
      this.#closeIfEmpty();
    });
    return peer;
  }

  /**
   * Makes a hidden peer a participant: stored first (like a join), then announced, its producers
   * offered to the others, and it is told who is there and gets their consumers. Resolves false if
   * the peer or the room went away meanwhile.
   */
  async reveal(peer: Peer, persist: (peer: Peer) => Promise<void>): Promise<boolean> {
    if (this.#warm.get(peer.peerId) !== peer) return false;
    await persist(peer);
    if (this.#closed || peer.closed || this.#warm.get(peer.peerId) !== peer) return false;
    this.#warm.delete(peer.peerId);
    this.#media.reveal(peer.peerId);
    peer.revealed();
    const others = [...this.#peers.values()];
    this.#peers.set(peer.peerId, peer);
    this.#attach(peer);
    const { peerId, userId, displayName } = peer;
    for (const o of others) o.notify('peerJoined', { peerId, userId, displayName });
    // The revealed peer set up its session while hidden: it learns who is there as notifications,
    // each before the consumers of that peer's producers.
    for (const o of others)
      peer.notify('peerJoined', { peerId: o.peerId, userId: o.userId, displayName: o.displayName });
    // Consumers made ahead while both rang (Peer.preConsume) start forwarding now, after the
    // announcements above, for pairs that are both in the room; the offers below skip them.
    const inRoom = (id: string): boolean => this.#peers.has(id);
    peer.openGates(inRoom);
    for (const o of others) o.openGates(inRoom);
    const own = peer.info().producers;
    for (const producer of own) this.emit('producerAdded', peerId, producer);
    for (const o of others) for (const producer of own) this.#offer(o, peerId, producer);
    for (const o of others) for (const producer of o.info().producers) this.#offer(peer, o.peerId, producer);
    return true;
  }

  /**
   * To a hidden peer that just set up its media: consumers, made ahead and gated, of what the other
   * warm peers (other users' devices ringing or calling in the same call) publish.
   */
  offerAhead(peer: Peer): void {
    for (const w of this.#warm.values())
      if (aheadPair(peer, w))
        for (const producer of w.info().producers)
          void peer.preConsume(w.peerId, producer).catch(() => undefined);
  }

  /** Pushes consumers of everything there to a peer that just joined with `mediaSetup`. */
  offerExisting(peer: Peer): void {
    for (const o of this.#peers.values())
      if (o !== peer) for (const producer of o.info().producers) this.#offer(peer, o.peerId, producer);
  }

  /** Tells `to` about a producer: a pushed consumer if it joined with `mediaSetup`, else `newProducer`. */
  #offer(to: Peer, from: string, producer: ProducerInfo): void {
    if (to.pushesConsumers) void to.pushConsumer(from, producer).catch(() => undefined);
    else to.notify('newProducer', { peerId: from, producer });
  }

  /** Everyone in the room but `exceptPeerId`, with what they publish. */
  peers(exceptPeerId?: string): PeerInfo[] {
    return [...this.#peers.values()].filter((p) => p.peerId !== exceptPeerId).map((p) => p.info());
  }

  snapshot(): RoomSnapshot {
    return {
      name: this.name,
      routerId: this.#media.routerId,
      workerPid: this.#media.workerPid,
      joining: this.#joining.size,
      warm: this.#warm.size,
      peers: [...this.#peers.values()].map((p) => p.snapshot()),
    };
  }

  /**
   * Closes every peer and the router. With a reason, the peers are told (`roomClosed`) so their
   * clients rejoin. Idempotent.
   */
  close(reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const peers = [...this.#peers.values(), ...this.#joining, ...this.#warm.values()];
    this.#peers.clear();
    this.#joining.clear();
    this.#warm.clear();
    for (const p of peers) {
      if (reason) p.notify('roomClosed', { reason });
      p.close();
    }
    this.#media.close();
    this.emit('close');
    this.removeAllListeners();
  }

  /** The room's listeners on a peer; the peer drops them all when it closes. */
  #attach(peer: Peer): void {
    const from = peer.peerId;
    peer.on('producer', (producer) => {
      for (const p of this.#peers.values()) if (p.peerId !== from) this.#offer(p, from, producer);
      this.emit('producerAdded', from, producer);
    });
    peer.on('producerClosed', (producerId) => {
      this.#broadcast('producerClosed', { peerId: from, producerId }, from);
      this.emit('producerRemoved', producerId);
    });
    peer.on('producerPaused', (producerId) =>
      this.#broadcast('producerPaused', { peerId: from, producerId }, from),
    );
    peer.on('producerResumed', (producerId) =>
      this.#broadcast('producerResumed', { peerId: from, producerId }, from),
    );
    peer.once('close', () => this.#left(peer));
  }

  #left(peer: Peer): void {
    if (this.#peers.get(peer.peerId) !== peer) return;
    this.#peers.delete(peer.peerId);
    this.#broadcast('peerLeft', { peerId: peer.peerId });
    this.emit('peerLeft', peer);
    this.#closeIfEmpty();
  }

  #closeIfEmpty(): void {
    if (this.#peers.size === 0 && this.#joining.size === 0 && this.#warm.size === 0) this.close();
  }

  #broadcast<N extends NotificationName>(name: N, data: NotificationData[N], exceptPeerId?: string): void {
    for (const p of this.#peers.values()) if (p.peerId !== exceptPeerId) p.notify(name, data);
  }
}

/**
 * Two warm peers that consume each other ahead: different users (a person's own other devices
 * never need each other's media).
 */
function aheadPair(a: Peer, b: Peer): boolean {
  return a !== b && a.userId !== b.userId;
}
