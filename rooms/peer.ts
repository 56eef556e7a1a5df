/**
 * One participant of a room on this node: who they are, how to reach them, and their media.
 * A Peer answers its own media requests (transports, produce, consume, pause/resume) and reports
 * what changed through typed events; the Room decides who hears about it and the RoomService
 * what is stored. Closing a peer closes all its media, and is how a peer leaves its room.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type {
  NotificationData,
  NotificationName,
  PeerInfo,
  ProducerInfo,
  RequestData,
  ResponseData,
} from '../protocol/signaling.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { MediaEndpoint } from '../sfu/mediaEndpoint.js';
import { reportConsumerScores, reportProducerScores } from './mediaScores.js';

export type MediaSetup = NonNullable<RequestData<'join'>['mediaSetup']>;

export type Notify = <N extends NotificationName>(name: N, data: NotificationData[N]) => void;

export interface PeerEvents {
  /** A producer exists and the peer is still in the room: announce it. */
  producer: [producer: ProducerInfo];
  producerClosed: [producerId: string];
  producerPaused: [producerId: string];
  producerResumed: [producerId: string];
  /** The peer left (or its room closed); emitted once. */
  close: [];
}

/** What the server holds for one peer, for tests and operators (no mediasoup objects). */
export interface PeerSnapshot {
  peerId: string;
  userId: string;
  displayName: string;
  producers: ProducerInfo[];
  consumers: { consumerId: string; producerId: string; kind: 'audio' | 'video'; paused: boolean }[];
}

export interface PeerOptions {
  peerId: string;
  userId: string;
  displayName: string;
  endpoint: MediaEndpoint;
  notify: Notify;
  /** Who publishes a producer of the room (the peer's own answer to `consume` names the owner). */
  producerOwner: (producerId: string) => string | undefined;
  /** Set up ahead and not yet in the room for anyone (see Room.reveal). */
  hidden?: boolean;
}

export class Peer extends EventEmitter<PeerEvents> {
  readonly peerId: string;
  readonly userId: string;
  readonly displayName: string;
  readonly joinedAt = Date.now();
  readonly #endpoint: MediaEndpoint;
  readonly #notify: Notify;
  readonly #producerOwner: (producerId: string) => string | undefined;
  #closing = false;
  #closed = false;
  #hidden: boolean;
  /** The receive transport the server created (mediaSetup): consumers are pushed onto it. */
  #pushTo: string | undefined;
  /**
   * Consumers made ahead while hidden (preConsume), by consumer id: nothing is forwarded until this
   * peer and the producer's owner are both in the room (openGates), whatever the client asks.
   * `ready`: the client has asked to resume it (its receiver exists).
   */
  readonly #gated = new Map<string, { consumer: types.Consumer; ownerPeerId: string; ready: boolean }>();

  constructor(opts: PeerOptions) {
    super();
    this.peerId = opts.peerId;
    this.userId = opts.userId;
    this.displayName = opts.displayName;
    this.#endpoint = opts.endpoint;
    this.#notify = opts.notify;
    this.#producerOwner = opts.producerOwner;
    this.#hidden = opts.hidden ?? false;
    this.#endpoint.on('consumerClosed', (consumerId) => this.notify('consumerClosed', { consumerId }));
    // The media went away under the peer (its room's router closed): the peer is gone too.
    this.#endpoint.once('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }
  /** Warming up: nobody is told of this peer, and it receives nothing, until the room reveals it. */
  get hidden(): boolean {
    return this.#hidden;
  }
  /** Whether the server creates this peer's consumers (it joined with `mediaSetup`). */
  get pushesConsumers(): boolean {
    return this.#pushTo !== undefined;
  }
  get producerCount(): number {
    return this.#endpoint.producerCount;
  }
  get consumerCount(): number {
    return this.#endpoint.consumerCount;
  }

  notify<N extends NotificationName>(name: N, data: NotificationData[N]): void {
    if (!this.#closed) this.#notify(name, data);
  }

  info(): PeerInfo {
    return {
      peerId: this.peerId,
      userId: this.userId,
      displayName: this.displayName,
      producers: [...this.#endpoint.producers].map(producerInfo),
    };
  }

  snapshot(): PeerSnapshot {
    return {
      ...this.info(),
      consumers: [...this.#endpoint.consumers].map((c) => ({
        consumerId: c.id,
        producerId: c.producerId,
        kind: c.kind,
        paused: c.paused,
      })),
    };
  }

  /** Byte counters of this peer's producers (in) and consumers (out), for tests and diagnostics. */
  async mediaBytes(): Promise<{
    producers: { kind: 'audio' | 'video'; bytes: number }[];
    consumers: { kind: 'audio' | 'video'; bytes: number }[];
  }> {
    const producers = await Promise.all(
      [...this.#endpoint.producers].map(async (p) => ({
        kind: p.kind,
        bytes: (await p.getStats()).reduce((n, s) => n + s.byteCount, 0),
      })),
    );
    const consumers = await Promise.all(
      [...this.#endpoint.consumers].map(async (c) => ({
        kind: c.kind,
        bytes: (await c.getStats())
          .filter((s) => s.type === 'outbound-rtp')
          .reduce((n, s) => n + s.byteCount, 0),
      })),
    );
    return { producers, consumers };
  }

  /** Stats of every transport of this peer (for metrics). */
  transportStats(): Promise<unknown[]> {
    return this.#endpoint.allTransportStats();
  }

  // The rtp/dtls objects were shape-checked by the protocol schema; mediasoup validates their
  // meaning and throws TypeError on nonsense, which the signaling edge maps to MEDIA_ERROR.

  async setRtpCapabilities({
    rtpCapabilities,
  }: RequestData<'setRtpCapabilities'>): Promise<ResponseData['setRtpCapabilities']> {
    this.#endpoint.setRtpCapabilities(rtpCapabilities as unknown as types.RtpCapabilities);
    return {};
  }

  /**
   * `mediaSetup`: capabilities and transports in one step (answered with the join), and from now on
   * the server creates this peer's consumers and pushes them (`newConsumer`).
   */
  async prepareMedia(setup: MediaSetup): Promise<NonNullable<ResponseData['join']['transports']>> {
    await this.setRtpCapabilities(setup);
    const [recv, send] = await Promise.all([
      this.createTransport({ direction: 'recv' }),
      setup.send === false ? undefined : this.createTransport({ direction: 'send' }),
    ]);
    this.#pushTo = recv.id;
    return send ? { recv, send } : { recv };
  }

  /**
   * Creates a paused consumer of another peer's producer and tells the client (`newConsumer`); the
   * client resumes it once its receiver exists. A producer this device cannot receive (or one gone
   * meanwhile) is skipped: there is nothing the client could do with it.
   */
  async pushConsumer(ownerPeerId: string, producer: ProducerInfo): Promise<void> {
    if (this.#hidden) return;
    await this.#push(ownerPeerId, producer, false);
  }

  /**
   * While a call rings, both sides are hidden peers: each consumes the other's producers ahead,
   * paused and gated (see `#gated`), so the client's receive side (its SDP, ICE and DTLS) is set up
   * before the answer and the answer only has to resume. Not one packet flows before both are
   * revealed — the consumer stays paused in mediasoup, whatever the client asks.
   */
  async preConsume(ownerPeerId: string, producer: ProducerInfo): Promise<void> {
    if (!this.#hidden) return;
    await this.#push(ownerPeerId, producer, true);
  }

  /** Opens the gates of consumers whose producer's owner is in the room now (this peer must be too). */
  openGates(inRoom: (peerId: string) => boolean): void {
    if (this.#hidden || this.#closed) return;
    for (const [consumerId, gate] of [...this.#gated]) {
      if (!inRoom(gate.ownerPeerId)) continue;
      this.#gated.delete(consumerId);
      reportConsumerScores(gate.consumer, (name, data) => this.notify(name, data));
      if (gate.ready) this.#endpoint.resumeConsumer(consumerId).catch(() => undefined);
    }
  }

  async #push(ownerPeerId: string, producer: ProducerInfo, gated: boolean): Promise<void> {
    const transportId = this.#pushTo;
    if (transportId === undefined || this.#closed) return;
    let consumer: types.Consumer;
    try {
      consumer = await this.#endpoint.consume(transportId, producer.producerId, { hiddenToo: gated });
    } catch (err) {
      if (err instanceof ServiceError) return;
      throw err;
    }
    if (gated) {
      // No scores either until the gate opens: the producer's score says how the other side's
      // media is doing, which is theirs to share only once both answered.
      this.#gated.set(consumer.id, { consumer, ownerPeerId, ready: false });
      consumer.observer.once('close', () => this.#gated.delete(consumer.id));
    } else reportConsumerScores(consumer, (name, data) => this.notify(name, data));
    this.notify('newConsumer', {
      consumerId: consumer.id,
      producerId: producer.producerId,
      peerId: ownerPeerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters as ResponseData['consume']['rtpParameters'],
      producerPaused: consumer.producerPaused,
      ...(producer.source ? { source: producer.source } : {}),
    });
  }

  /** Called by the room when it reveals this peer. */
  revealed(): void {
    this.#hidden = false;
  }

  async createTransport({
    direction,
  }: RequestData<'createTransport'>): Promise<ResponseData['createTransport']> {
    const t = await this.#endpoint.createTransport(direction);
    return {
      id: t.id,
      iceParameters: t.iceParameters,
      iceCandidates: t.iceCandidates as ResponseData['createTransport']['iceCandidates'],
      dtlsParameters: t.dtlsParameters as ResponseData['createTransport']['dtlsParameters'],
    };
  }

  async connectTransport({
    transportId,
    dtlsParameters,
  }: RequestData<'connectTransport'>): Promise<ResponseData['connectTransport']> {
    await this.#endpoint.connectTransport(transportId, dtlsParameters as unknown as types.DtlsParameters);
    return {};
  }

  async restartIce({ transportId }: RequestData<'restartIce'>): Promise<ResponseData['restartIce']> {
    return { iceParameters: await this.#endpoint.restartIce(transportId) };
  }

  async produce({
    transportId,
    kind,
    rtpParameters,
    appData,
  }: RequestData<'produce'>): Promise<ResponseData['produce']> {
    const producer = await this.#endpoint.produce(
      transportId,
      kind,
      rtpParameters as unknown as types.RtpParameters,
      appData,
    );
    this.#watch(producer);
    return { producerId: producer.id };
  }

  /** Audio and video at once, with the ids the client picked; all or nothing. */
  async produceMany({
    transportId,
    producers,
  }: RequestData<'produceMany'>): Promise<ResponseData['produceMany']> {
    const made = await Promise.allSettled(
      producers.map((p) =>
        this.#endpoint.produce(
          transportId,
          p.kind,
          p.rtpParameters as unknown as types.RtpParameters,
          p.appData,
          p.id,
        ),
      ),
    );
    const failed = made.find((r) => r.status === 'rejected');
    if (failed) {
      for (const r of made) if (r.status === 'fulfilled') r.value.close();
      throw failed.reason;
    }
    const created = made.map((r) => (r as PromiseFulfilledResult<types.Producer>).value);
    for (const producer of created) this.#watch(producer);
    return { producerIds: created.map((p) => p.id) };
  }

  /**
   * Reports a new producer and its changes. The endpoint already refused a producer made while it
   * closed; these listeners live as long as the producer does, so nothing is left on the peer.
   */
  #watch(producer: types.Producer): void {
    producer.observer.once('close', () => this.emit('producerClosed', producer.id));
    producer.observer.on('pause', () => this.emit('producerPaused', producer.id));
    producer.observer.on('resume', () => this.emit('producerResumed', producer.id));
    reportProducerScores(producer, (name, data) => this.notify(name, data));
    this.emit('producer', producerInfo(producer));
  }

  async closeProducer({ producerId }: RequestData<'closeProducer'>): Promise<ResponseData['closeProducer']> {
    this.#endpoint.producer(producerId).close();
    return {};
  }

  async pauseProducer({ producerId }: RequestData<'pauseProducer'>): Promise<ResponseData['pauseProducer']> {
    await this.#endpoint.producer(producerId).pause();
    return {};
  }

  async resumeProducer({
    producerId,
  }: RequestData<'resumeProducer'>): Promise<ResponseData['resumeProducer']> {
    await this.#endpoint.producer(producerId).resume();
    return {};
  }

  async consume({ transportId, producerId }: RequestData<'consume'>): Promise<ResponseData['consume']> {
    if (this.#hidden)
      throw new ServiceError(ErrorCode.InvalidState, 'warming up: nothing can be received before the answer');
    const consumer = await this.#endpoint.consume(transportId, producerId);
    reportConsumerScores(consumer, (name, data) => this.notify(name, data));
    return {
      consumerId: consumer.id,
      producerId,
      peerId: this.#producerOwner(producerId) ?? '',
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters as ResponseData['consume']['rtpParameters'],
    };
  }

  async resumeConsumer({
    consumerId,
  }: RequestData<'resumeConsumer'>): Promise<ResponseData['resumeConsumer']> {
    const gate = this.#gated.get(consumerId);
    if (gate) {
      // Made ahead while hidden: remembered, and resumed once both peers are in the room.
      gate.ready = true;
      return {};
    }
    await this.#endpoint.resumeConsumer(consumerId);
    return {};
  }

  async setConsumerPreferredLayers({
    consumerId,
    spatialLayer,
    temporalLayer,
  }: RequestData<'setConsumerPreferredLayers'>): Promise<ResponseData['setConsumerPreferredLayers']> {
    await this.#endpoint.consumer(consumerId).setPreferredLayers({ spatialLayer, temporalLayer });
    return {};
  }

  /**
   * Leaves: closes all media (each producer still reports `producerClosed`, so the others drop
   * its tracks), then emits `close` once and drops every listener. Idempotent.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#endpoint.close();
    this.#closed = true;
    this.emit('close');
    this.removeAllListeners();
  }
}

function producerInfo(p: types.Producer): ProducerInfo {
  // The source lets receivers show a screen share large rather than as the person's camera.
  const source = p.appData.source;
  return {
    producerId: p.id,
    kind: p.kind,
    paused: p.paused,
    ...(typeof source === 'string' ? { source } : {}),
  };
}
