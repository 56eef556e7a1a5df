/**
 * The embedded single-node store: the same contract as the Redis store, held in this process.
 * Expiry is honoured on read so the contract tests behave identically against both.
 */
import type {
  HostedRoomRecord,
  NodeRecord,
  ParticipantRecord,
  ProducerRecord,
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
  readonly #rooms = new Map<string, RoomEntry>();
  readonly #nodes = new Map<string, { node: NodeRecord; expiresAt: number }>();

  constructor(opts: { ttlSeconds: number }) {
    this.#ttlMs = opts.ttlSeconds * 1000;
  }

  #room(room: string): RoomEntry | undefined {
    const entry = this.#rooms.get(room);
    if (entry && entry.expiresAt <= Date.now()) {
      this.#rooms.delete(room);
      return undefined;
    }
    return entry;
  }

  #alive(nodeId: string): boolean {
    const n = this.#nodes.get(nodeId);
    if (n && n.expiresAt <= Date.now()) this.#nodes.delete(nodeId);
    return this.#nodes.has(nodeId);
  }

  async claimRoomHost(room: string, host: RoomHostRecord): Promise<RoomHostRecord> {
    const current = this.#room(room);
    if (current && this.#alive(current.host.nodeId)) return { ...current.host };
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

  async heartbeat(node: NodeRecord, hostedRooms: readonly HostedRoomRecord[]): Promise<void> {
    const expiresAt = Date.now() + this.#ttlMs;
    this.#nodes.set(node.nodeId, { node: { ...node }, expiresAt });
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
  }

  async isNodeAlive(nodeId: string): Promise<boolean> {
    return this.#alive(nodeId);
  }

  async listNodes(): Promise<NodeRecord[]> {
    return [...this.#nodes.keys()]
      .filter((id) => this.#alive(id))
      .map((id) => ({ ...this.#nodes.get(id)!.node }));
  }

  async removeNode(nodeId: string): Promise<void> {
    this.#nodes.delete(nodeId);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#rooms.clear();
    this.#nodes.clear();
  }
}
