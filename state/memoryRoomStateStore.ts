/**
 * The embedded single-node store: the same contract as the Redis store, held in this process.
 * Expiry is honoured on read so the contract tests behave identically against both.
 */
import type {
  HostedRoomRecord,
  NodeLiveness,
  NodeRecord,
  ParticipantRecord,
  ProducerRecord,
  RoomEntry as MembershipDecision,
  RoomHostRecord,
  RoomStateStore,
} from './roomStateStore.js';

interface RoomEntry {
  host: RoomHostRecord;
  participants: Map<string, ParticipantRecord>;
  producers: Map<string, ProducerRecord>;
  expiresAt: number;
}

export class MemoryRoomStateStore implements RoomStateStore {
  readonly kind = 'memory' as const;
  readonly #ttlMs: number;
  readonly #deadAfterMs: number;
  readonly #rooms = new Map<string, RoomEntry>();
  readonly #nodes = new Map<string, { node: NodeRecord; expiresAt: number; beatAt: number }>();
  readonly #members = new Map<string, { userIds: Set<string>; expiresAt: number }>();

  constructor(opts: { ttlSeconds: number; nodeDeadAfterMs?: number }) {
    this.#ttlMs = opts.ttlSeconds * 1000;
    this.#deadAfterMs = opts.nodeDeadAfterMs ?? this.#ttlMs;
  }

  #room(room: string): RoomEntry | undefined {
    const entry = this.#rooms.get(room);
    if (entry && entry.expiresAt <= Date.now()) {
      this.#rooms.delete(room);
      return undefined;
    }
    return entry;
  }

  /** Whether the node (that incarnation of it, when given) is alive; dead entries stay until reaped. */
  #alive(nodeId: string, incarnation?: string): boolean {
    const n = this.#nodes.get(nodeId);
    if (!n || n.expiresAt <= Date.now()) return false;
    return incarnation === undefined || n.node.incarnation === incarnation;
  }

  async claimRoomHost(room: string, host: RoomHostRecord): Promise<RoomHostRecord> {
    const current = this.#room(room);
    if (current && this.#alive(current.host.nodeId, current.host.incarnation)) return { ...current.host };
    this.#rooms.set(room, {
      host: { ...host },
      participants: new Map(),
      producers: new Map(),
      expiresAt: Date.now() + this.#ttlMs,
    });
    return { ...host };
  }

  async getRoomHost(room: string): Promise<RoomHostRecord | null> {
    const entry = this.#room(room);
    return entry ? { ...entry.host } : null;
  }

  async releaseRoomHost(room: string, nodeId: string): Promise<void> {
    if (this.#room(room)?.host.nodeId === nodeId) this.#rooms.delete(room);
  }

  async addParticipant(room: string, participant: ParticipantRecord): Promise<void> {
    this.#room(room)?.participants.set(participant.peerId, { ...participant });
  }

  async removeParticipant(room: string, peerId: string): Promise<void> {
    const entry = this.#room(room);
    if (!entry) return;
    entry.participants.delete(peerId);
    for (const [id, p] of entry.producers) if (p.peerId === peerId) entry.producers.delete(id);
  }

  async listParticipants(room: string): Promise<ParticipantRecord[]> {
    return [...(this.#room(room)?.participants.values() ?? [])].map((p) => ({ ...p }));
  }

  async addProducer(room: string, producer: ProducerRecord): Promise<void> {
    this.#room(room)?.producers.set(producer.producerId, { ...producer });
  }

  async removeProducer(room: string, producerId: string): Promise<void> {
    this.#room(room)?.producers.delete(producerId);
  }

  async listProducers(room: string): Promise<ProducerRecord[]> {
    return [...(this.#room(room)?.producers.values() ?? [])].map((p) => ({ ...p }));
  }

  #membersOf(room: string): Set<string> | undefined {
    const entry = this.#members.get(room);
    if (entry && entry.expiresAt <= Date.now()) {
      this.#members.delete(room);
      return undefined;
    }
    return entry?.userIds;
  }

  async enterRoom(
    room: string,
    userId: string,
    opts: { admit: boolean; ttlSeconds: number },
  ): Promise<MembershipDecision> {
    const members = this.#membersOf(room);
    const expiresAt = Date.now() + opts.ttlSeconds * 1000;
    if (!members) {
      this.#members.set(room, { userIds: new Set([userId]), expiresAt });
      return 'created';
    }
    const wasMember = members.has(userId);
    if (!wasMember && !opts.admit) return 'refused';
    members.add(userId);
    this.#members.set(room, { userIds: members, expiresAt });
    return wasMember ? 'member' : 'admitted';
  }

  async addRoomMembers(room: string, userIds: readonly string[], ttlSeconds: number): Promise<void> {
    const members = this.#membersOf(room) ?? new Set<string>();
    for (const id of userIds) members.add(id);
    this.#members.set(room, { userIds: members, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  async isRoomMember(room: string, userId: string): Promise<boolean> {
    return this.#membersOf(room)?.has(userId) ?? false;
  }

  async heartbeat(
    node: NodeRecord,
    hostedRooms: readonly HostedRoomRecord[],
  ): Promise<{ replaced: string | null }> {
    const now = Date.now();
    const previous = this.#nodes.get(node.nodeId)?.node.incarnation;
    const replaced = previous !== undefined && previous !== node.incarnation ? previous : null;
    this.#nodes.set(node.nodeId, { node: { ...node }, expiresAt: now + this.#deadAfterMs, beatAt: now });
    // Rooms of a previous incarnation of this node id belong to a dead process.
    if (replaced !== null) this.#purge((h) => h.nodeId === node.nodeId && h.incarnation !== node.incarnation);
    const expiresAt = now + this.#ttlMs;
    for (const record of hostedRooms) {
      const entry = this.#room(record.room);
      if (entry && entry.host.nodeId !== node.nodeId) continue;
      this.#rooms.set(record.room, {
        host: { ...record.host },
        participants: new Map(record.participants.map((p) => [p.peerId, { ...p }])),
        producers: new Map(record.producers.map((p) => [p.producerId, { ...p }])),
        expiresAt,
      });
    }
    return { replaced };
  }

  #purge(hostedBy: (host: RoomHostRecord) => boolean): void {
    for (const [name, entry] of this.#rooms) if (hostedBy(entry.host)) this.#rooms.delete(name);
  }

  async isNodeAlive(nodeId: string): Promise<boolean> {
    return this.#alive(nodeId);
  }

  async nodeLiveness(nodeId: string, incarnation: string): Promise<NodeLiveness | null> {
    if (!this.#alive(nodeId, incarnation)) return null;
    const n = this.#nodes.get(nodeId)!;
    const now = Date.now();
    return { beatAgeMs: now - n.beatAt, deadInMs: n.expiresAt - now };
  }

  async listNodes(): Promise<NodeRecord[]> {
    return [...this.#nodes.keys()]
      .filter((id) => this.#alive(id))
      .map((id) => ({ ...this.#nodes.get(id)!.node }));
  }

  async reapDeadNodes(): Promise<string[]> {
    const reaped: string[] = [];
    for (const [nodeId, n] of this.#nodes) {
      if (n.expiresAt > Date.now()) continue;
      this.#purge((h) => h.nodeId === nodeId && h.incarnation === n.node.incarnation);
      this.#nodes.delete(nodeId);
      reaped.push(nodeId);
    }
    return reaped;
  }

  async removeNode(nodeId: string): Promise<void> {
    this.#nodes.delete(nodeId);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#rooms.clear();
    this.#nodes.clear();
    this.#members.clear();
  }
}
