/**
 * The rooms this node hosts, and the only part of rooms/ that talks to the RoomStateStore.
 * Creates a room on first join (claiming it in the store so no other node hosts it too; a room
 * another live node hosts is refused with RoomHostedElsewhereError, which the relay turns into a
 * session relayed to that node), persists
 * membership and producers from the rooms' events, and re-asserts every hosted room's full record
 * on each heartbeat, so keys lost from the store come back within one heartbeat.
 *
 * Who may join a room is decided here too (rooms have members): the first user of a room name
 * creates it and is its only member; others get in only as members (added by one) or with a signed
 * invite (auth/roomInvites.ts) naming the room. Call rooms are not asked: CallService decides those.
 *
 * Write order, so a store outage leaves no ghosts: a join is announced only after its membership
 * is stored (if the write fails the join fails with a retryable UNAVAILABLE and nothing is kept);
 * a leave takes effect in memory at once and its store write is retried until it lands or the
 * node shuts down.
 */
import type { types } from 'mediasoup';
import type { RoomInvites } from '../auth/roomInvites.js';
import { ErrorCode, ServiceError, limitExceeded } from '../protocol/errors.js';
import { MediaRoom, type EndpointLimits } from '../sfu/mediaRoom.js';
import type { WorkerPool } from '../sfu/workerPool.js';
import type {
  HostedRoomRecord,
  NodeRecord,
  RoomHostRecord,
  RoomStateStore,
} from '../state/roomStateStore.js';
import type { Logger } from '../lib/logger.js';
import type { Notify, Peer } from './peer.js';
import { Room, type RoomSnapshot } from './room.js';
import { RoomCreationLimit } from './roomCreationLimit.js';
import { RoomHostedElsewhereError } from './roomHostedElsewhere.js';
import { retryUntil, withTimeout } from './storeWrites.js';

export interface RoomServiceOptions {
  node: NodeRecord;
  store: RoomStateStore;
  workers: WorkerPool;
  log: Logger;
  heartbeatIntervalMs: number;
  /** How long a join waits for its membership write before failing as UNAVAILABLE. */
  joinWriteTimeoutMs?: number;
  /** Rooms one user may create per minute on this node, and each peer's media quotas. */
  limits?: { roomsCreatedPerUserPerMinute: number } & EndpointLimits;
  /** Signs and checks invite links. */
  invites: RoomInvites;
  /** How long an invite created by `createInvite` is valid. */
  inviteTtlSeconds: number;
  /** How long a room's members list is kept after its last join or addition. */
  membershipTtlSeconds: number;
}

/** Without configuration (unit tests): the defaults of server/config.ts. */
const DEFAULT_LIMITS = { roomsCreatedPerUserPerMinute: 10, transportsPerPeer: 8, producersPerPeer: 8 };

/**
 * What lets a user into a room: membership (or an invite making them a member), or, for a call's
 * room, the CallService having checked that they are a participant who answered.
 */
export type RoomAccess = { kind: 'member'; invite?: string | undefined } | { kind: 'call' };

/** The one answer a stranger gets: it says nothing about who the members are. */
const NOT_A_MEMBER = 'not a member of this room; ask a member for an invite link';

/** How often a join waiting on another host's fate looks at its heartbeat. */
const HOST_POLL_MS = 100;

/** What a client is told to wait before retrying a join refused during a store outage. */
const RETRY_AFTER_MS = 1000;

export class RoomService {
  readonly #node: NodeRecord;
  readonly #store: RoomStateStore;
  readonly #workers: WorkerPool;
  readonly #log: Logger;
  readonly #joinWriteTimeoutMs: number;
  readonly #invites: RoomInvites;
  readonly #inviteTtlSeconds: number;
  readonly #membershipTtlSeconds: number;
  readonly #rooms = new Map<string, { room: Room; host: RoomHostRecord }>();
  readonly #creating = new Map<string, Promise<Room>>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #heartbeatIntervalMs: number;
  /** The heartbeat in flight (a slow store must not pile them up; drain waits for it). */
  #beatRun: Promise<void> | undefined;
  /** Aborted at shutdown: stops the retries of leave writes. */
  readonly #shutdown = new AbortController();
  readonly #retries = new Set<Promise<void>>();
  /** Hosted rooms entered by membership (not calls): their members are re-asserted on each heartbeat. */
  readonly #memberRooms = new Set<string>();
  /** Heartbeats sent so far (a join compares it across its write). */
  #beats = 0;
  #closed = false;
  /** SIGTERM: no joins; other nodes may take the rooms over (see drain). */
  #draining = false;
  readonly #creationLimit: RoomCreationLimit;
  readonly #endpointLimits: EndpointLimits;
  #capabilities: Promise<types.RtpCapabilities> | undefined;

  private constructor(opts: RoomServiceOptions) {
    const limits = opts.limits ?? DEFAULT_LIMITS;
    this.#creationLimit = new RoomCreationLimit(limits.roomsCreatedPerUserPerMinute);
    this.#endpointLimits = {
      transportsPerPeer: limits.transportsPerPeer,
      producersPerPeer: limits.producersPerPeer,
    };
    this.#node = opts.node;
    this.#store = opts.store;
    this.#workers = opts.workers;
    this.#log = opts.log;
    this.#joinWriteTimeoutMs = opts.joinWriteTimeoutMs ?? 2000;
    this.#invites = opts.invites;
    this.#inviteTtlSeconds = opts.inviteTtlSeconds;
    this.#membershipTtlSeconds = opts.membershipTtlSeconds;
    this.#heartbeatIntervalMs = opts.heartbeatIntervalMs;
    this.#heartbeat = setInterval(() => {
      this.#beatRun ??= this.#beat().finally(() => (this.#beatRun = undefined));
    }, opts.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  static async create(opts: RoomServiceOptions): Promise<RoomService> {
    const service = new RoomService(opts);
    try {
      const { replaced } = await opts.store.heartbeat(opts.node, []);
      if (replaced !== null)
        opts.log.info('previous incarnation of this node purged', { nodeId: opts.node.nodeId, replaced });
    } catch (err) {
      clearInterval(service.#heartbeat);
      throw err;
    }
    return service;
  }

  get nodeId(): string {
    return this.#node.nodeId;
  }

  /** The live room of that name on this node, if any. */
  room(name: string): Room | undefined {
    return this.#rooms.get(name)?.room;
  }

  get rooms(): IterableIterator<Room> {
    return [...this.#rooms.values()].map((r) => r.room).values();
  }

  /** What this node holds for a room (peers, their producers and consumers), or undefined. */
  snapshot(name: string): RoomSnapshot | undefined {
    return this.room(name)?.snapshot();
  }

  /** Store writes still being retried (leaves and releases that have not landed yet). */
  get pendingWrites(): number {
    return this.#retries.size;
  }

  /** Closes a room, telling its peers why if a reason is given. */
  closeRoom(name: string, reason?: string): void {
    this.room(name)?.close(reason);
  }

  async join(
    roomName: string,
    user: { userId: string; displayName: string },
    notify: Notify,
    access: RoomAccess,
  ): Promise<{ room: Room; peer: Peer }> {
    if (this.#draining)
      throw new ServiceError(ErrorCode.Unavailable, 'node draining; reconnect', 503, 1, {
        retryAfterMs: String(RETRY_AFTER_MS),
      });
    if (access.kind === 'member') await this.#enter(roomName, user.userId, access.invite);
    // A room may close (last one out) between lookup and join; one retry gets a fresh room.
    for (let attempt = 0; attempt < 2; attempt++) {
      const room = await this.#getOrCreate(roomName, user.userId);
      const peer = await room.join(user, notify, (p) => this.#storeJoin(room, p));
      if (peer) {
        if (access.kind === 'member') this.#memberRooms.add(roomName);
        return { room, peer };
      }
    }
    throw new ServiceError(ErrorCode.Unavailable, 'room closed while joining', 503, 1, {
      retryAfterMs: String(RETRY_AFTER_MS),
    });
  }

  /**
   * A hidden peer in a call's room, warming up while the call rings (Room.joinHidden); the
   * CallService has checked that the user may. At most `maxWarm` per room.
   */
  async joinHidden(
    roomName: string,
    user: { userId: string; displayName: string },
    notify: Notify,
    maxWarm: number,
  ): Promise<{ room: Room; peer: Peer }> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const room = await this.#getOrCreate(roomName, user.userId);
      const peer = room.joinHidden(user, notify, maxWarm);
      if (peer) return { room, peer };
    }
    throw new ServiceError(ErrorCode.Unavailable, 'room closed while joining', 503, 1, {
      retryAfterMs: String(RETRY_AFTER_MS),
    });
  }

  /** Makes a hidden peer a participant (stored, then announced); false if it or its room went away. */
  reveal(room: Room, peer: Peer): Promise<boolean> {
    return room.reveal(peer, (p) => this.#storeJoin(room, p));
  }

  /** Hidden peers warming up, over every room of this node (for metrics and tests). */
  get warmPeers(): number {
    let n = 0;
    for (const { room } of this.#rooms.values()) n += room.warmCount;
    return n;
  }

  /**
   * The routers' RTP capabilities. Every router is made from the same codec list, so they are the
   * same for all rooms: read once from a router made for the purpose, then kept.
   */
  routerRtpCapabilities(): Promise<types.RtpCapabilities> {
    this.#capabilities ??= MediaRoom.probeCapabilities(this.#workers.pick()).catch((err: unknown) => {
      this.#capabilities = undefined;
      throw err;
    });
    return this.#capabilities;
  }

  /** Admits the user as a member of the room, or refuses them (see the header). */
  async #enter(roomName: string, userId: string, invite: string | undefined): Promise<void> {
    let admit = false;
    if (invite !== undefined) {
      try {
        if (this.#invites.verify(invite).room !== roomName)
          throw new ServiceError(ErrorCode.Forbidden, 'this invite is for another room', 403);
        admit = true;
      } catch (refusal) {
        // A member rejoining with the link they came in by, expired since, is still a member;
        // anyone else is refused with the invite's problem (and creates nothing).
        await this.#assertMember(roomName, userId, refusal);
      }
    }
    let entry;
    try {
      entry = await withTimeout(
        this.#store.enterRoom(roomName, userId, { admit, ttlSeconds: this.#membershipTtlSeconds }),
        this.#joinWriteTimeoutMs,
      );
    } catch (error) {
      throw unavailable('cannot check room membership', error, this.#log);
    }
    if (entry === 'refused') throw new ServiceError(ErrorCode.Forbidden, NOT_A_MEMBER, 403);
    if (entry !== 'member') this.#log.info(`room member ${entry}`, { room: roomName, userId });
  }

  async #assertMember(roomName: string, userId: string, refusal?: unknown): Promise<void> {
    let member: boolean;
    try {
      member = await withTimeout(this.#store.isRoomMember(roomName, userId), this.#joinWriteTimeoutMs);
    } catch (error) {
      throw unavailable('cannot check room membership', error, this.#log);
    }
    if (!member) throw refusal ?? new ServiceError(ErrorCode.Forbidden, NOT_A_MEMBER, 403);
  }

  /** A signed invite to the room, for one of its members to share. */
  async createInvite(roomName: string, userId: string): Promise<{ invite: string; expiresAt: number }> {
    await this.#assertMember(roomName, userId);
    const { token, expiresAt } = this.#invites.create(roomName, this.#inviteTtlSeconds);
    return { invite: token, expiresAt };
  }

  /** A member makes other users members (they can then join by the room's name). */
  async addMembers(roomName: string, userId: string, userIds: readonly string[]): Promise<void> {
    await this.#assertMember(roomName, userId);
    try {
      await withTimeout(
        this.#store.addRoomMembers(roomName, userIds, this.#membershipTtlSeconds),
        this.#joinWriteTimeoutMs,
      );
    } catch (error) {
      throw unavailable('cannot add room members', error, this.#log);
    }
  }

  async #storeJoin(room: Room, peer: Peer): Promise<void> {
    const record = {
      peerId: peer.peerId,
      userId: peer.userId,
      displayName: peer.displayName,
      nodeId: this.#node.nodeId,
      joinedAt: peer.joinedAt,
    };
    const beatsBefore = this.#beats;
    try {
      await withTimeout(this.#store.addParticipant(room.name, record), this.#joinWriteTimeoutMs);
    } catch (error) {
      // If the write lands after all, the next heartbeat's full record drops it again.
      throw unavailable('cannot record the join', error, this.#log);
    }
    // A heartbeat sent while this write was in flight rewrote the room without the newcomer: write
    // it once more (sent after that heartbeat, so it lands after it; a failure is healed by the next).
    if (this.#beats !== beatsBefore && !room.closed) {
      this.#store
        .addParticipant(room.name, record)
        .catch((error: unknown) => this.#log.warn('state store: addParticipant failed', { error }));
    }
  }

  async #getOrCreate(name: string, userId: string): Promise<Room> {
    if (this.#closed) throw new ServiceError(ErrorCode.Unavailable, 'server is shutting down', 503);
    const existing = this.#rooms.get(name)?.room;
    if (existing && !existing.closed) return existing;
    let pending = this.#creating.get(name);
    if (!pending) {
      // A room another node hosts is joined there (through the relay): no router made here for it.
      await this.#assertNotHostedElsewhere(name);
      pending = this.#creating.get(name);
    }
    if (!pending) {
      // Only the join that creates the room (and so a router) is charged.
      const waitMs = this.#creationLimit.take(userId);
      if (waitMs > 0) {
        throw limitExceeded('rooms_created_per_user', 'too many rooms created; try again later', waitMs);
      }
      pending = this.#createRoom(name).finally(() => this.#creating.delete(name));
      this.#creating.set(name, pending);
    }
    return pending;
  }

  /** Throws RoomHostedElsewhereError if a live node other than this one hosts the room. */
  async #assertNotHostedElsewhere(name: string): Promise<void> {
    let elsewhere: string | undefined;
    try {
      const host = await withTimeout(this.#store.getRoomHost(name), this.#joinWriteTimeoutMs);
      if (host && host.nodeId !== this.#node.nodeId) {
        const alive = await withTimeout(this.#store.isNodeAlive(host.nodeId), this.#joinWriteTimeoutMs);
        if (alive) elsewhere = host.nodeId;
      }
    } catch (error) {
      throw unavailable('cannot look up the room host', error, this.#log);
    }
    if (elsewhere) throw new RoomHostedElsewhereError(name, elsewhere);
  }

  async #createRoom(name: string): Promise<Room> {
    const media = await MediaRoom.create(this.#workers.pick(), this.#endpointLimits);
    const host: RoomHostRecord = {
      nodeId: this.#node.nodeId,
      incarnation: this.#node.incarnation,
      workerPid: media.workerPid,
      routerId: media.routerId,
      createdAt: Date.now(),
    };
    let current: RoomHostRecord;
    try {
      current = await withTimeout(this.#store.claimRoomHost(name, host), this.#joinWriteTimeoutMs);
      // Another node hosts it: unless it proves alive by heartbeating again, it is (or is about to
      // be declared) dead, and this join takes the room over rather than sending the client to it.
      if (current.nodeId !== this.#node.nodeId || current.incarnation !== this.#node.incarnation) {
        if (!(await this.#hostBeatsAgain(current)))
          current = await withTimeout(this.#store.claimRoomHost(name, host), this.#joinWriteTimeoutMs);
      }
    } catch (error) {
      media.close();
      throw unavailable('cannot claim the room', error, this.#log);
    }
    if (current.nodeId !== this.#node.nodeId || this.#closed) {
      media.close();
      if (this.#closed) throw new ServiceError(ErrorCode.Unavailable, 'server is shutting down', 503);
      // Claimed by another node between the check in #getOrCreate and here: relayed there.
      throw new RoomHostedElsewhereError(name, current.nodeId);
    }
    const room = new Room({ name, media });
    this.#rooms.set(name, { room, host });
    this.#persistFromEvents(room);
    this.#log.info('room created', { room: name, workerPid: media.workerPid });
    return room;
  }

  /**
   * For a relay that found the room's host unreachable: returns once that host has heartbeated again
   * or is dead (then the next join here takes the room over). Bounded like #hostBeatsAgain.
   */
  async awaitHostVerdict(name: string): Promise<void> {
    const host = await withTimeout(this.#store.getRoomHost(name), this.#joinWriteTimeoutMs).catch(() => null);
    if (host && host.nodeId !== this.#node.nodeId) await this.#hostBeatsAgain(host);
  }

  /**
   * Waits until the host's node either heartbeats again (true: alive, the room stays there) or is
   * dead (false: the room may be taken over). A node killed a moment ago still looks alive for up to
   * NODE_DEAD_AFTER_MS; its clients reconnect at once, and waiting here (instead of redirecting them
   * to a dead address) is what brings them back as soon as the node is declared dead. Bounded by
   * the node's remaining life plus a heartbeat.
   */
  async #hostBeatsAgain(host: RoomHostRecord): Promise<boolean> {
    const first = await this.#store.nodeLiveness(host.nodeId, host.incarnation);
    if (!first) return false;
    const deadline = Date.now() + first.deadInMs + this.#heartbeatIntervalMs;
    let last = first;
    while (Date.now() < deadline && !this.#closed) {
      await delay(HOST_POLL_MS);
      const now = await this.#store.nodeLiveness(host.nodeId, host.incarnation);
      if (!now) return false;
      if (now.beatAgeMs < last.beatAgeMs) return true;
      last = now;
    }
    return true;
  }

  /** Producer writes are best effort (the heartbeat heals them); leave and release writes retry. */
  #persistFromEvents(room: Room): void {
    const name = room.name;
    room.on('producerAdded', (peerId, producer) => {
      this.#store
        .addProducer(name, { producerId: producer.producerId, peerId, kind: producer.kind })
        .catch((error: unknown) => this.#log.warn('state store: addProducer failed', { error, room: name }));
    });
    room.on('producerRemoved', (producerId) => {
      if (room.closed) return; // the release below removes everything at once
      this.#store
        .removeProducer(name, producerId)
        .catch((error: unknown) =>
          this.#log.warn('state store: removeProducer failed', { error, room: name }),
        );
    });
    room.on('peerLeft', (peer) => {
      if (room.closed) return;
      this.#retry(`removeParticipant ${name}`, () => this.#store.removeParticipant(name, peer.peerId));
    });
    room.once('close', () => {
      if (this.#rooms.get(name)?.room === room) this.#rooms.delete(name);
      this.#log.info('room closed', { room: name });
      // A room of the same name created here meanwhile owns the entry now: stop releasing it.
      this.#retry(
        `releaseRoomHost ${name}`,
        () => this.#store.releaseRoomHost(name, this.#node.nodeId),
        () => !this.#rooms.has(name) && !this.#creating.has(name),
      );
    });
  }

  #retry(what: string, write: () => Promise<void>, stillWanted: () => boolean = () => true): void {
    const done = retryUntil(write, {
      signal: this.#shutdown.signal,
      stillWanted,
      onError: (error, attempt) => {
        if (attempt === 1) this.#log.warn(`state store: ${what} failed, retrying`, { error });
      },
    }).finally(() => this.#retries.delete(done));
    this.#retries.add(done);
  }

  /** The full record of every hosted room, so whatever the store lost is written again. */
  #hostedRecords(): HostedRoomRecord[] {
    return [...this.#rooms.entries()].map(([name, { room, host }]) => {
      const peers = [...room.participants];
      return {
        room: name,
        host,
        participants: peers.map((p) => ({
          peerId: p.peerId,
          userId: p.userId,
          displayName: p.displayName,
          nodeId: this.#node.nodeId,
          joinedAt: p.joinedAt,
        })),
        producers: peers.flatMap((p) =>
          p.info().producers.map((pr) => ({ producerId: pr.producerId, peerId: p.peerId, kind: pr.kind })),
        ),
      };
    });
  }

  async #beat(): Promise<void> {
    this.#beats++;
    try {
      const { replaced } = await this.#store.heartbeat(this.#node, this.#hostedRecords());
      // After the first beat, another incarnation in our entry means a second live process uses
      // this NODE_ID: the two take each other's rooms over on every beat.
      if (replaced !== null)
        this.#log.error('another process heartbeats with this NODE_ID; give each node its own', {
          nodeId: this.#node.nodeId,
          other: replaced,
        });
    } catch (error) {
      this.#log.warn('state store heartbeat failed', { error });
    }
    // Any node may purge the dead (idempotent), so a dead node's rooms and members vanish within a
    // heartbeat of its death being due, without a leader.
    try {
      const reaped = await this.#store.reapDeadNodes();
      if (reaped.length > 0) this.#log.warn('dead nodes purged', { nodeIds: reaped });
    } catch (error) {
      this.#log.warn('state store: purging dead nodes failed', { error });
    }
    await this.#reassertMembers();
  }

  /**
   * Everyone in a hosted room is one of its members: write them again, so a members list the store
   * lost (a flush, a failover) comes back within one heartbeat instead of letting the next stranger
   * "create" a room others are in. This also keeps a busy room's list from expiring.
   */
  async #reassertMembers(): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const name of this.#memberRooms) {
      const room = this.#rooms.get(name)?.room;
      if (!room) {
        this.#memberRooms.delete(name);
        continue;
      }
      const userIds = [...new Set([...room.participants].map((p) => p.userId))];
      if (userIds.length > 0)
        writes.push(this.#store.addRoomMembers(name, userIds, this.#membershipTtlSeconds));
    }
    const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
    if (failed) this.#log.warn('state store: re-asserting room members failed', { error: failed.reason });
  }

  /**
   * SIGTERM: this node takes no more joins and stops heartbeating, and leaves the node list at once,
   * so the next join of any of its rooms on another node takes the room over without waiting for
   * this one to be declared dead. The rooms here empty as their clients move (see SignalingServer.drain).
   */
  async drain(): Promise<void> {
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    clearInterval(this.#heartbeat);
    // A beat still in flight would put this node back in the list after it left.
    await this.#beatRun;
    await this.#store
      .removeNode(this.#node.nodeId)
      .catch((error: unknown) => this.#log.warn('state store: leaving the node list failed', { error }));
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Resolves once no room is hosted here and every pending store write landed, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#rooms.size === 0 && this.#creating.size === 0 && this.#retries.size === 0) return true;
      if (Date.now() >= deadline) return false;
      await delay(Math.min(50, Math.max(1, deadline - Date.now())));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    await Promise.allSettled([...this.#creating.values()]);
    const rooms = [...this.#rooms.values()].map((r) => r.room);
    for (const room of rooms) room.close();
    // One last attempt each for what is still pending, then stop retrying.
    await Promise.race([Promise.allSettled([...this.#retries]), delay(2000)]);
    this.#shutdown.abort();
    await this.#store.removeNode(this.#node.nodeId).catch(() => undefined);
  }
}

function unavailable(what: string, error: unknown, log: Logger): ServiceError {
  if (error instanceof ServiceError) return error;
  log.warn(`state store: ${what}`, { error });
  return new ServiceError(ErrorCode.Unavailable, `${what}: state store unavailable, retry shortly`, 503, 1, {
    retryAfterMs: String(RETRY_AFTER_MS),
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
