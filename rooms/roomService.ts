/**
 * The rooms this node hosts. Creates a room on first join (claiming it in the state store so no
 * other node hosts it too), keeps the node's liveness and its rooms' entries fresh, and closes
 * everything on shutdown.
 */
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import { MediaRoom } from '../sfu/mediaRoom.js';
import type { WorkerPool } from '../sfu/workerPool.js';
import type { NodeRecord, RoomStateStore } from '../state/roomStateStore.js';
import type { Logger } from '../server/logger.js';
import type { Notify, Participant } from './participant.js';
import { Room } from './room.js';

export interface RoomServiceOptions {
  node: NodeRecord;
  store: RoomStateStore;
  workers: WorkerPool;
  log: Logger;
  heartbeatIntervalMs: number;
}

export class RoomService {
  readonly #node: NodeRecord;
  readonly #store: RoomStateStore;
  readonly #workers: WorkerPool;
  readonly #log: Logger;
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();
  readonly #heartbeat: NodeJS.Timeout;
  #closed = false;

  private constructor(opts: RoomServiceOptions) {
    this.#node = opts.node;
    this.#store = opts.store;
    this.#workers = opts.workers;
    this.#log = opts.log;
    this.#heartbeat = setInterval(() => void this.#beat(), opts.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  static async create(opts: RoomServiceOptions): Promise<RoomService> {
    const service = new RoomService(opts);
    await opts.store.heartbeat(opts.node, []);
    return service;
  }

  get nodeId(): string {
    return this.#node.nodeId;
  }

  room(name: string): Room | undefined {
    return this.#rooms.get(name);
  }

  get rooms(): IterableIterator<Room> {
    return this.#rooms.values();
  }

  async join(
    roomName: string,
    user: { userId: string; displayName: string },
    notify: Notify,
  ): Promise<{ room: Room; participant: Participant }> {
    // A room may close (last one out) between lookup and join; one retry gets a fresh room.
    for (let attempt = 0; ; attempt++) {
      const room = await this.#getOrCreate(roomName);
      try {
        return { room, participant: await room.join(user, notify) };
      } catch (err) {
        if (!room.closed || attempt > 0) throw err;
      }
    }
  }

  async #getOrCreate(name: string): Promise<Room> {
    if (this.#closed) throw new ServiceError(ErrorCode.Unavailable, 'server is shutting down', 503);
    const existing = this.#rooms.get(name);
    if (existing && !existing.closed) return existing;
    let pending = this.#creating.get(name);
    if (!pending) {
      pending = this.#createRoom(name).finally(() => this.#creating.delete(name));
      this.#creating.set(name, pending);
    }
    return pending;
  }

  async #createRoom(name: string): Promise<Room> {
    const media = await MediaRoom.create(this.#workers.pick());
    let host;
    try {
      host = await this.#store.claimRoomHost(name, {
        nodeId: this.#node.nodeId,
        workerPid: media.workerPid,
        routerId: media.router.id,
        createdAt: Date.now(),
      });
    } catch (err) {
      media.close();
      throw err;
    }
    if (host.nodeId !== this.#node.nodeId) {
      media.close();
      const nodes = await this.#store.listNodes();
      const address = nodes.find((n) => n.nodeId === host.nodeId)?.address ?? 'unknown';
      throw new ServiceError(
        ErrorCode.RoomHostedElsewhere,
        `room is hosted by node ${host.nodeId} at ${address}`,
        409,
        undefined,
        { nodeId: host.nodeId, url: address },
      );
    }
    const room = new Room({ name, media, store: this.#store, nodeId: this.#node.nodeId, log: this.#log });
    this.#rooms.set(name, room);
    room.once('close', () => {
      if (this.#rooms.get(name) === room) this.#rooms.delete(name);
      this.#log.info('room closed', { room: name });
    });
    this.#log.info('room created', { room: name, workerPid: media.workerPid });
    return room;
  }

  async #beat(): Promise<void> {
    try {
      await this.#store.heartbeat(this.#node, [...this.#rooms.keys()]);
    } catch (error) {
      this.#log.warn('state store heartbeat failed', { error });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    await Promise.allSettled([...this.#creating.values()]);
    const rooms = [...this.#rooms.values()];
    for (const room of rooms) room.close();
    await Promise.all(rooms.map((r) => r.whenReleased()));
    await this.#store.removeNode(this.#node.nodeId).catch(() => undefined);
  }
}
