/**
 * One router on one worker, the media half of a room. It knows endpoints and producers by id,
 * not people: who may do what is decided above, in rooms/. Endpoints get what they need from it
 * injected (router, producer lookup, new-producer hook); they never import it.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { mediaCodecs } from './mediaCodecs.js';
import { MediaEndpoint, type EndpointLimits, type ProducerAppData } from './mediaEndpoint.js';

export type { EndpointLimits } from './mediaEndpoint.js';
import type { MediaWorker } from './workerPool.js';

interface MediaRoomEvents {
  /** Loudest producer changed (null: silence). */
  activeSpeaker: [producerId: string | null];
  /** The router closed (explicitly, or because its worker died). */
  close: [];
}

export class MediaRoom extends EventEmitter<MediaRoomEvents> {
  readonly #mediaWorker: MediaWorker;
  readonly #router: types.Router;
  readonly #speakerObserver: types.ActiveSpeakerObserver;
  readonly #endpoints = new Map<string, MediaEndpoint>();
  /** Every producer in the room, so any endpoint can consume any other's. */
  readonly #producers = new Map<string, types.Producer<ProducerAppData>>();
  /**
   * Endpoints set up ahead (a call's devices warming up while it rings): their producers are not
   * consumable and not heard by speaker detection until `reveal`, so nothing of them reaches anyone.
   */
  readonly #hidden = new Set<string>();
  #closed = false;
  readonly #limits: EndpointLimits;

  private constructor(
    mw: MediaWorker,
    router: types.Router,
    observer: types.ActiveSpeakerObserver,
    limits: EndpointLimits,
  ) {
    super();
    this.#limits = limits;
    this.#mediaWorker = mw;
    this.#router = router;
    this.#speakerObserver = observer;
    mw.routerCount++;
    router.on('workerclose', () => this.close());
    observer.on('dominantspeaker', ({ producer }) => this.emit('activeSpeaker', producer.id));
  }

  static async create(mw: MediaWorker, limits: EndpointLimits): Promise<MediaRoom> {
    const router = await mw.worker.createRouter({ mediaCodecs });
    try {
      const observer = await router.createActiveSpeakerObserver({ interval: 300 });
      return new MediaRoom(mw, router, observer, limits);
    } catch (err) {
      router.close();
      throw err;
    }
  }

  /** The RTP capabilities of a router with our codecs (a router made and closed for the purpose). */
  static async probeCapabilities(mw: MediaWorker): Promise<types.RtpCapabilities> {
    const router = await mw.worker.createRouter({ mediaCodecs });
    const caps = router.rtpCapabilities;
    router.close();
    return caps;
  }

  get closed(): boolean {
    return this.#closed;
  }
  get workerPid(): number {
    return this.#mediaWorker.worker.pid;
  }
  get routerId(): string {
    return this.#router.id;
  }
  get rtpCapabilities(): types.RtpCapabilities {
    return this.#router.rtpCapabilities;
  }
  get producerCount(): number {
    return this.#producers.size;
  }

  /** Id of the endpoint that publishes `producerId`, if it is in this room. */
  producerOwner(producerId: string): string | undefined {
    return this.#producers.get(producerId)?.appData.endpointId;
  }

  /** Endpoints that are hidden (see `#hidden`). */
  get hiddenCount(): number {
    return this.#hidden.size;
  }

  createEndpoint(id: string, opts: { hidden?: boolean } = {}): MediaEndpoint {
    if (opts.hidden) this.#hidden.add(id);
    const endpoint = new MediaEndpoint({
      id,
      router: this.#router,
      webRtcServer: this.#mediaWorker.webRtcServer,
      getProducerById: (producerId, hiddenToo) => this.#consumable(producerId, hiddenToo),
      producerIdTaken: (producerId) => this.#producers.has(producerId),
      onNewProducer: (producer) => this.#addProducer(producer),
      limits: this.#limits,
    });
    this.#endpoints.set(id, endpoint);
    endpoint.once('close', () => {
      this.#endpoints.delete(id);
      this.#hidden.delete(id);
    });
    return endpoint;
  }

  /** A hidden endpoint's producers become consumable and audible. */
  reveal(id: string): void {
    if (!this.#hidden.delete(id)) return;
    for (const producer of this.#producers.values())
      if (producer.appData.endpointId === id) this.#observeSpeaker(producer);
  }

  /** `hiddenToo`: a hidden endpoint's producer too (consumed ahead, gated: see Peer.preConsume). */
  #consumable(producerId: string, hiddenToo = false): types.Producer | undefined {
    const producer = this.#producers.get(producerId);
    return producer && (hiddenToo || !this.#hidden.has(producer.appData.endpointId)) ? producer : undefined;
  }

  #observeSpeaker(producer: types.Producer): void {
    // Only audio feeds speaker detection; a failure here must not fail the publish.
    if (producer.kind === 'audio' && !producer.closed)
      this.#speakerObserver.addProducer({ producerId: producer.id }).catch(() => undefined);
  }

  #addProducer(producer: types.Producer<ProducerAppData>): void {
    this.#producers.set(producer.id, producer);
    producer.observer.once('close', () => this.#producers.delete(producer.id));
    if (!this.#hidden.has(producer.appData.endpointId)) this.#observeSpeaker(producer);
  }

  /** Closes every endpoint and the router. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const endpoint of [...this.#endpoints.values()]) endpoint.close();
    this.#router.close();
    this.#mediaWorker.routerCount--;
    this.emit('close');
    this.removeAllListeners();
  }
}
