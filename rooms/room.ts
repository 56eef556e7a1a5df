/**
 * A room hosted on this node: its participants, their media, and the room's entry in the state
 * store. The room closes itself when the last participant leaves or its media worker dies.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { NotificationData, NotificationName, PeerInfo, ProducerInfo } from '../protocol/signaling.js';
import type { MediaRoom } from '../sfu/mediaRoom.js';
import type { RoomStateStore } from '../state/roomStateStore.js';
import type { Logger } from '../server/logger.js';
import type { Notify, Participant } from './participant.js';

interface RoomEvents {
  close: [];
}

export class Room extends EventEmitter<RoomEvents> {
  readonly name: string;
  readonly media: MediaRoom;
  readonly #store: RoomStateStore;
  readonly #nodeId: string;
  readonly #log: Logger;
  readonly #participants = new Map<string, Participant>();
  #closed = false;
  #released: Promise<void> = Promise.resolve();

  constructor(opts: { name: string; media: MediaRoom; store: RoomStateStore; nodeId: string; log: Logger }) {
    super();
    this.name = opts.name;
    this.media = opts.media;
    this.#store = opts.store;
    this.#nodeId = opts.nodeId;
    this.#log = opts.log.child({ room: opts.name });
    this.media.on('activeSpeaker', (producerId) => {
      const owner = producerId ? this.#ownerOf(producerId) : undefined;
      this.#broadcast('activeSpeaker', { peerId: owner?.peerId ?? null });
    });
    this.media.once('close', () => {
      if (this.#closed) return;
      // The router went away under us (worker died): tell everyone, then clean up.
      for (const p of this.#participants.values())
        p.notify('roomClosed', { reason: 'media worker restarted' });
      this.close();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }
  get size(): number {
    return this.#participants.size;
  }
  get participants(): IterableIterator<Participant> {
    return this.#participants.values();
  }

  async join(user: { userId: string; displayName: string }, notify: Notify): Promise<Participant> {
    if (this.#closed) throw new ServiceError(ErrorCode.Unavailable, 'room closed', 503);
    const peerId = randomUUID();
    const participant: Participant = {
      peerId,
      userId: user.userId,
      displayName: user.displayName,
      joinedAt: Date.now(),
      endpoint: this.media.createEndpoint(peerId),
      notify,
    };
    participant.endpoint.on('consumerClosed', (consumerId) => notify('consumerClosed', { consumerId }));
    this.#participants.set(peerId, participant);
    this.#broadcast('peerJoined', { peerId, userId: user.userId, displayName: user.displayName }, peerId);
    await this.#store.addParticipant(this.name, {
      peerId,
      userId: user.userId,
      displayName: user.displayName,
      nodeId: this.#nodeId,
      joinedAt: participant.joinedAt,
    });
    return participant;
  }

  /** Everyone in the room but `exceptPeerId`, with what they publish. */
  peers(exceptPeerId?: string): PeerInfo[] {
    return [...this.#participants.values()]
      .filter((p) => p.peerId !== exceptPeerId)
      .map((p) => ({
        peerId: p.peerId,
        userId: p.userId,
        displayName: p.displayName,
        producers: [...p.endpoint.producers.values()].map(producerInfo),
      }));
  }

  async publish(participant: Participant, producer: types.Producer): Promise<void> {
    producer.observer.once('close', () => {
      this.#broadcast(
        'producerClosed',
        { peerId: participant.peerId, producerId: producer.id },
        participant.peerId,
      );
      this.#store.removeProducer(this.name, producer.id).catch((error: unknown) => {
        this.#log.warn('state store: removeProducer failed', { error });
      });
    });
    producer.observer.on('pause', () =>
      this.#broadcast(
        'producerPaused',
        { peerId: participant.peerId, producerId: producer.id },
        participant.peerId,
      ),
    );
    producer.observer.on('resume', () =>
      this.#broadcast(
        'producerResumed',
        { peerId: participant.peerId, producerId: producer.id },
        participant.peerId,
      ),
    );
    await this.#store.addProducer(this.name, {
      producerId: producer.id,
      peerId: participant.peerId,
      kind: producer.kind,
    });
    this.#broadcast(
      'newProducer',
      { peerId: participant.peerId, producer: producerInfo(producer) },
      participant.peerId,
    );
  }

  async leave(peerId: string): Promise<void> {
    const participant = this.#participants.get(peerId);
    if (!participant) return;
    this.#participants.delete(peerId);
    participant.endpoint.close();
    this.#broadcast('peerLeft', { peerId });
    try {
      await this.#store.removeParticipant(this.name, peerId);
    } catch (error) {
      this.#log.warn('state store: removeParticipant failed', { error, peerId });
    }
    if (this.#participants.size === 0) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#participants.values()) p.endpoint.close();
    this.#participants.clear();
    this.media.close();
    this.#released = this.#store.releaseRoomHost(this.name, this.#nodeId).catch((error: unknown) => {
      this.#log.warn('state store: releaseRoomHost failed', { error });
    });
    this.emit('close');
  }

  /** Settles once a closed room's state-store entry is gone (or its removal failed and was logged). */
  whenReleased(): Promise<void> {
    return this.#released;
  }

  #ownerOf(producerId: string): Participant | undefined {
    for (const p of this.#participants.values()) if (p.endpoint.producers.has(producerId)) return p;
    return undefined;
  }

  #broadcast<N extends NotificationName>(name: N, data: NotificationData[N], exceptPeerId?: string): void {
    for (const p of this.#participants.values()) if (p.peerId !== exceptPeerId) p.notify(name, data);
  }
}

function producerInfo(p: types.Producer): ProducerInfo {
  return { producerId: p.id, kind: p.kind, paused: p.paused };
}
