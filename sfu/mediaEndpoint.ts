/**
 * The transports, producers and consumers of one client in one router. Every id a client sends is
 * looked up here, so a client can only touch objects it created itself.
 *
 * It knows nothing of its parent: the MediaRoom injects the router, a producer lookup and a hook
 * for new producers (as mediasoup's own Transport gets `getProducerById`), so there is no import
 * cycle and the room's producer index stays the room's.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { ErrorCode, ServiceError, limitExceeded } from '../protocol/errors.js';

export type TransportDirection = 'send' | 'recv';

/** Bits per second a new transport may send before the estimate says otherwise (see createTransport). */
const INITIAL_OUTGOING_BITRATE = 3_000_000;

export interface MediaEndpointOptions {
  id: string;
  router: types.Router;
  webRtcServer: types.WebRtcServer;
  /** Any producer of the room, by id (what this endpoint may consume); hidden endpoints' only with `hiddenToo`. */
  getProducerById: (producerId: string, hiddenToo?: boolean) => types.Producer | undefined;
  /** Whether any producer of the room (hidden endpoints' included) has this id. */
  producerIdTaken: (producerId: string) => boolean;
  /** Called once a producer of this endpoint exists and the endpoint is still open. */
  onNewProducer: (producer: types.Producer<ProducerAppData>) => void;
  limits: EndpointLimits;
}

/** Per-peer media quotas. Consumers need none: one per remote producer is all a room can offer. */
export interface EndpointLimits {
  transportsPerPeer: number;
  producersPerPeer: number;
}

interface MediaEndpointEvents {
  /** A consumer closed from the server side (its producer or transport went away). */
  consumerClosed: [consumerId: string];
  close: [];
}

/** App data every producer carries, so its owner can be found from the producer alone. */
export interface ProducerAppData extends Record<string, unknown> {
  endpointId: string;
}

export class MediaEndpoint extends EventEmitter<MediaEndpointEvents> {
  readonly id: string;
  readonly #opts: MediaEndpointOptions;
  readonly #transports = new Map<
    string,
    { transport: types.WebRtcTransport; direction: TransportDirection; connected: boolean }
  >();
  /** Transports and producers being created (counted against the quotas while mediasoup works). */
  #pendingTransports = 0;
  #pendingProducers = 0;
  readonly #producers = new Map<string, types.Producer>();
  readonly #consumers = new Map<string, types.Consumer>();
  /** Producers this endpoint consumes (or is starting to), so none is consumed twice. */
  readonly #consuming = new Set<string>();
  #rtpCapabilities: types.RtpCapabilities | undefined;
  #closed = false;

  constructor(opts: MediaEndpointOptions) {
    super();
    this.id = opts.id;
    this.#opts = opts;
  }

  get closed(): boolean {
    return this.#closed;
  }
  get producers(): IterableIterator<types.Producer> {
    return this.#producers.values();
  }
  get consumers(): IterableIterator<types.Consumer> {
    return this.#consumers.values();
  }
  get producerCount(): number {
    return this.#producers.size;
  }
  get consumerCount(): number {
    return this.#consumers.size;
  }

  setRtpCapabilities(caps: types.RtpCapabilities): void {
    this.#rtpCapabilities = caps;
  }

  async createTransport(direction: TransportDirection): Promise<types.WebRtcTransport> {
    this.#assertOpen();
    if (this.#transports.size + this.#pendingTransports >= this.#opts.limits.transportsPerPeer) {
      throw limitExceeded(
        'transports_per_peer',
        `at most ${this.#opts.limits.transportsPerPeer} transports per peer; close one first`,
      );
    }
    this.#pendingTransports++;
    let transport: types.WebRtcTransport;
    try {
      transport = await this.#opts.router.createWebRtcTransport({
        webRtcServer: this.#opts.webRtcServer,
        enableUdp: true,
        enableTcp: true,
        preferUdp: true,
        // High enough that a new receiver of a simulcast producer starts on the layer it will stay on:
        // starting lower made the estimate climb within the first second and switch layers, and a
        // switch waits for a keyframe of the new layer — the first frame waited for two keyframes.
        initialAvailableOutgoingBitrate: INITIAL_OUTGOING_BITRATE,
        appData: { endpointId: this.id, direction },
      });
    } finally {
      this.#pendingTransports--;
    }
    this.#closeIfLeft(transport);
    this.#transports.set(transport.id, { transport, direction, connected: false });
    transport.observer.once('close', () => this.#transports.delete(transport.id));
    if (direction === 'send') await transport.setMaxIncomingBitrate(2_500_000).catch(() => undefined);
    // The client's path moved (a network change, an ICE restart after a resume): whatever video was
    // in flight on the old path is lost, and waiting for the receiver's own PLI costs seconds (measured
    // ~2.5 s in test/network.resume.test.ts). Ask the senders for keyframes at once instead.
    if (direction === 'recv')
      transport.on('iceselectedtuplechange', () => this.#requestKeyFrames(transport.id));
    this.#closeIfLeft(transport);
    return transport;
  }

  #requestKeyFrames(transportId: string): void {
    for (const consumer of this.#consumers.values()) {
      if (consumer.closed || consumer.kind !== 'video') continue;
      if ((consumer.appData as { transportId?: string }).transportId !== transportId) continue;
      consumer.requestKeyFrame().catch(() => undefined);
    }
  }

  #transport(id: string, direction?: TransportDirection): types.WebRtcTransport {
    return this.#entry(id, direction).transport;
  }

  #entry(
    id: string,
    direction?: TransportDirection,
  ): { transport: types.WebRtcTransport; direction: TransportDirection; connected: boolean } {
    const entry = this.#transports.get(id);
    if (!entry) throw new ServiceError(ErrorCode.TransportNotFound, `no transport ${id} of yours`);
    if (direction && entry.direction !== direction) {
      throw new ServiceError(ErrorCode.BadRequest, `transport ${id} is a ${entry.direction} transport`);
    }
    return entry;
  }

  /** A transport is connected once: a second attempt is the client's mistake, answered INVALID_STATE. */
  async connectTransport(id: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const entry = this.#entry(id);
    if (entry.connected)
      throw new ServiceError(ErrorCode.InvalidState, `transport ${id} is already connected`);
    entry.connected = true;
    try {
      await entry.transport.connect({ dtlsParameters });
    } catch (err) {
      entry.connected = false;
      throw err;
    }
  }

  async restartIce(id: string): Promise<types.IceParameters> {
    return this.#transport(id).restartIce();
  }

  /** Stats of every transport of this endpoint (for metrics). */
  async allTransportStats(): Promise<unknown[]> {
    const all = await Promise.all(
      [...this.#transports.values()].map(({ transport }) => transport.getStats().catch(() => [])),
    );
    return all.flat();
  }

  async produce(
    transportId: string,
    kind: types.MediaKind,
    rtpParameters: types.RtpParameters,
    appData: Record<string, unknown> = {},
    id?: string,
  ): Promise<types.Producer<ProducerAppData>> {
    const transport = this.#transport(transportId, 'send');
    // A client-picked id (produceMany) must not name a producer that exists anywhere in the room.
    if (id !== undefined && this.#opts.producerIdTaken(id))
      throw new ServiceError(ErrorCode.BadRequest, `producer id ${id} is taken`);
    if (this.#producers.size + this.#pendingProducers >= this.#opts.limits.producersPerPeer) {
      throw limitExceeded(
        'producers_per_peer',
        `at most ${this.#opts.limits.producersPerPeer} producers per peer; close one first`,
      );
    }
    this.#pendingProducers++;
    let producer: types.Producer<ProducerAppData>;
    try {
      producer = await transport.produce<ProducerAppData>({
        ...(id === undefined ? {} : { id }),
        kind,
        rtpParameters,
        appData: { ...appData, endpointId: this.id },
      });
    } finally {
      this.#pendingProducers--;
    }
    // The owner may have left while mediasoup worked: such a producer must never be announced.
    this.#closeIfLeft(producer);
    this.#producers.set(producer.id, producer);
    producer.observer.once('close', () => this.#producers.delete(producer.id));
    this.#opts.onNewProducer(producer);
    return producer;
  }

  producer(id: string): types.Producer {
    const producer = this.#producers.get(id);
    if (!producer) throw new ServiceError(ErrorCode.ProducerNotFound, `no producer ${id} of yours`);
    return producer;
  }

  /**
   * Consumers start paused: the client resumes once its track exists, so no keyframe is lost.
   * `hiddenToo`: the producer may belong to a hidden endpoint (rooms/peer.ts `preConsume` keeps such
   * a consumer paused until both peers are revealed).
   */
  async consume(
    transportId: string,
    producerId: string,
    opts: { hiddenToo?: boolean } = {},
  ): Promise<types.Consumer> {
    const transport = this.#transport(transportId, 'recv');
    const rtpCapabilities = this.#rtpCapabilities;
    if (!rtpCapabilities) {
      throw new ServiceError(ErrorCode.RtpCapabilitiesRequired, 'call setRtpCapabilities before consume');
    }
    if (!this.#opts.getProducerById(producerId, opts.hiddenToo))
      throw new ServiceError(ErrorCode.ProducerNotFound, `no producer ${producerId} in this room`);
    if (this.#producers.has(producerId)) {
      throw new ServiceError(ErrorCode.CannotConsume, 'cannot consume your own producer');
    }
    // One consumer per remote producer: a second one would only duplicate the same stream.
    if (this.#consuming.has(producerId)) {
      throw new ServiceError(ErrorCode.CannotConsume, `already consuming producer ${producerId}`);
    }
    if (!this.#opts.router.canConsume({ producerId, rtpCapabilities })) {
      throw new ServiceError(ErrorCode.CannotConsume, `your device cannot receive producer ${producerId}`);
    }
    this.#consuming.add(producerId);
    let consumer: types.Consumer;
    try {
      consumer = await transport.consume({
        producerId,
        rtpCapabilities,
        paused: true,
        appData: { producerId, transportId },
      });
    } catch (err) {
      this.#consuming.delete(producerId);
      throw err;
    }
    this.#closeIfLeft(consumer);
    this.#consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => {
      this.#consumers.delete(consumer.id);
      this.#consuming.delete(producerId);
    });
    const serverSideClose = (): void => {
      consumer.close();
      if (!this.#closed) this.emit('consumerClosed', consumer.id);
    };
    consumer.on('producerclose', serverSideClose);
    consumer.on('transportclose', serverSideClose);
    // Ask the sender for a keyframe now rather than at resume: it is on its way while the client
    // creates its receiver, so the first frame does not wait a full round trip to the sender. (Not
    // for a consumer made ahead: its resume, maybe seconds later, asks when it matters.)
    if (consumer.kind === 'video' && !opts.hiddenToo) consumer.requestKeyFrame().catch(() => undefined);
    return consumer;
  }

  /** Resumes a consumer; a video one asks its sender for a keyframe at once (the first frame needs one). */
  async resumeConsumer(id: string): Promise<void> {
    const consumer = this.consumer(id);
    await consumer.resume();
    if (consumer.kind === 'video') await consumer.requestKeyFrame().catch(() => undefined);
  }

  consumer(id: string): types.Consumer {
    const consumer = this.#consumers.get(id);
    if (!consumer) throw new ServiceError(ErrorCode.ConsumerNotFound, `no consumer ${id} of yours`);
    return consumer;
  }

  /** Closes every transport, which closes their producers and consumers in mediasoup. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { transport } of [...this.#transports.values()]) transport.close();
    this.#transports.clear();
    this.emit('close');
    this.removeAllListeners();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ServiceError(ErrorCode.NotInRoom, 'left the room');
  }

  /** After every await: if the endpoint closed meanwhile, the new object goes too and the request fails. */
  #closeIfLeft(created: { close(): void }): void {
    if (!this.#closed) return;
    created.close();
    throw new ServiceError(ErrorCode.NotInRoom, 'left the room while the request was being handled');
  }
}
