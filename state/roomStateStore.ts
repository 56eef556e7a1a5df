/**
 * Everything the deployment must agree on about rooms: which node hosts a room, who is in it and
 * what they publish, and which nodes are alive. Room entries expire unless the hosting node keeps
 * refreshing them, so a crashed node's rooms disappear by themselves within one TTL.
 *
 * Liveness is kept apart from that TTL: a node heartbeats every HEARTBEAT_INTERVAL_MS and is dead
 * once silent for NODE_DEAD_AFTER_MS (seconds, not the state TTL). Each boot of a node is an
 * incarnation (a random id): a room hosted by any incarnation but the node's current one is a room
 * of a dead process, so a claim takes it over and its participants and producers are purged.
 */
export interface NodeRecord {
  nodeId: string;
  /** This boot of the node (random per process start); a restart with the same nodeId gets a new one. */
  incarnation: string;
  /** This node's own HTTP address, for operators (clients use one address for all nodes: rooms/relay/). */
  address: string;
  startedAt: number;
}

/** How recently a live node heartbeated (on the store's clock). */
export interface NodeLiveness {
  /** Time since its last heartbeat. */
  beatAgeMs: number;
  /** Time until it counts as dead unless it heartbeats again. */
  deadInMs: number;
}

export interface RoomHostRecord {
  nodeId: string;
  /** The incarnation of the node that claimed the room (see NodeRecord.incarnation). */
  incarnation: string;
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
   * A host whose node stopped heartbeating, or that is another incarnation than the node's current
   * one, is replaced, and its stale participants and producers dropped.
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
   * Marks the node alive for NODE_DEAD_AFTER_MS and re-asserts the full record of every room it
   * hosts (host, participants, producers: exactly these, nothing else) for one more TTL. Whatever
   * the store lost (a flush, a failover to a replica that missed writes) is written again, and
   * whatever a failed write left behind is dropped. A room now hosted by another node is left alone.
   * A previous incarnation of the same node id is dead from this beat on: its rooms are purged.
   * Returns the incarnation this beat replaced (null when it was this one, or none): after the
   * first beat, another one means a second process runs with the same NODE_ID.
   */
  heartbeat(node: NodeRecord, hostedRooms: readonly HostedRoomRecord[]): Promise<{ replaced: string | null }>;
  isNodeAlive(nodeId: string): Promise<boolean>;
  /** How recently the node's `incarnation` heartbeated; null when it is dead (or another incarnation runs). */
  nodeLiveness(nodeId: string, incarnation: string): Promise<NodeLiveness | null>;
  listNodes(): Promise<NodeRecord[]>;
  /**
   * Purges every node that has been silent past NODE_DEAD_AFTER_MS: its rooms (host, participants,
   * producers) and its entry. Any node may call it at any time (it only deletes what still belongs
   * to the dead incarnation); returns the ids of the nodes purged.
   */
  reapDeadNodes(): Promise<string[]>;
  /** Removes the node's liveness entry (and its rooms index) at a clean shutdown. */
  removeNode(nodeId: string): Promise<void>;

  /** Throws if the store cannot serve requests (used by /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
