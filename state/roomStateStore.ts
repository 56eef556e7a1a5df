/**
 * Everything the deployment must agree on about rooms: which node hosts a room, who is in it and
 * what they publish, and which nodes are alive. Room entries expire unless the hosting node keeps
 * refreshing them, so a crashed node's rooms disappear by themselves within one TTL.
 */
export interface NodeRecord {
  nodeId: string;
  /** This node's own HTTP address, for operators (clients use one address for all nodes: rooms/relay/). */
  address: string;
  startedAt: number;
}

export interface RoomHostRecord {
  nodeId: string;
  workerPid: number;
  routerId: string;
  createdAt: number;
}

export interface ParticipantRecord {
  peerId: string;
  userId: string;
  displayName: string;
  nodeId: string;
  joinedAt: number;
}

export interface ProducerRecord {
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
}

/** Everything the deployment must know about one hosted room, as its host node holds it. */
export interface HostedRoomRecord {
  room: string;
  host: RoomHostRecord;
  participants: ParticipantRecord[];
  producers: ProducerRecord[];
}

/** How a join stands against a room's members list (see RoomStateStore.enterRoom). */
export type RoomEntry = 'created' | 'member' | 'admitted' | 'refused';

export interface RoomStateStore {
  readonly kind: 'memory' | 'redis';

  /**
   * Makes `host` the host of `room` unless a live node already hosts it; returns the host in force.
   * A host whose node stopped heartbeating is replaced, and its stale participants dropped.
   */
  claimRoomHost(room: string, host: RoomHostRecord): Promise<RoomHostRecord>;
  getRoomHost(room: string): Promise<RoomHostRecord | null>;
  /** Forgets the room and everyone in it, but only if `nodeId` is still its host. */
  releaseRoomHost(room: string, nodeId: string): Promise<void>;

  addParticipant(room: string, participant: ParticipantRecord): Promise<void>;
  /** Removes the participant and every producer it owned. */
  removeParticipant(room: string, peerId: string): Promise<void>;
  listParticipants(room: string): Promise<ParticipantRecord[]>;

  addProducer(room: string, producer: ProducerRecord): Promise<void>;
  removeProducer(room: string, producerId: string): Promise<void>;
  listProducers(room: string): Promise<ProducerRecord[]>;

  /**
   * Decides, atomically, whether `userId` may enter `room`, and records it: a room nobody is a member
   * of is created with the caller as its only member ('created'); a member stays one ('member'); with
   * `admit` (a valid invite) the caller becomes a member ('admitted'); anyone else is 'refused'.
   * Members are kept apart from who is in the room now and expire `ttlSeconds` after the last use,
   * so rooms nobody returns to do not accumulate.
   */
  enterRoom(room: string, userId: string, opts: { admit: boolean; ttlSeconds: number }): Promise<RoomEntry>;
  /** Adds members to a room (refreshing its expiry). */
  addRoomMembers(room: string, userIds: readonly string[], ttlSeconds: number): Promise<void>;
  isRoomMember(room: string, userId: string): Promise<boolean>;

  /**
   * Marks the node alive and re-asserts the full record of every room it hosts (host,
   * participants, producers: exactly these, nothing else) for one more TTL. Whatever the store
   * lost (a flush, a failover to a replica that missed writes) is written again, and whatever a
   * failed write left behind is dropped. A room now hosted by another node is left alone.
   */
  heartbeat(node: NodeRecord, hostedRooms: readonly HostedRoomRecord[]): Promise<void>;
  isNodeAlive(nodeId: string): Promise<boolean>;
  listNodes(): Promise<NodeRecord[]>;
  /** Removes the node's liveness entry at a clean shutdown. */
  removeNode(nodeId: string): Promise<void>;

  /** Throws if the store cannot serve requests (used by /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
