/**
 * Every Redis key and pub/sub channel of the project, in one place (as LiveKit's routing/redis.go),
 * so a newcomer or an operator reading `redis-cli --scan` can tell what each key is, who writes it,
 * and how long it lives. Stores never build key strings themselves; they ask this module.
 *
 * All keys start with a deployment prefix (default "cs:"; tests use one per run; it must not contain
 * "{" or "}").
 *
 * Redis Cluster: a multi-key Lua script, MULTI, MGET or pipeline must touch keys of one hash slot, so
 * keys used together share a hash tag (the part in braces decides the slot): {rooms} for room state
 * and node liveness (a claim reads the node list with the room's keys), {accounts} for users, phones,
 * photos, devices and blocks (registration writes phone, user and device at once), {calls} for calls
 * and the pointers, history and counters of who is in them (one script moves a call and its people's
 * pointers). Keys only ever used alone (codes, tickets, rate limits) carry no tag and spread over the
 * cluster. A new multi-key operation must use keys of one tag: the store contract suites run against a
 * real 3-primary cluster (test/*.contract.test.ts) and fail with CROSSSLOT otherwise. The tags trade
 * spreading for atomicity: each of the three namespaces lives on one primary.
 *
 * Rooms (RedisRoomStateStore) — expire unless the hosting node heartbeats:
 *   {p}{rooms}:nodes                hash nodeId → {"expiresAt": ms on Redis's clock, "node": NodeRecord}
 *                                    node list and liveness (a field is alive until its expiresAt)
 *   {p}{rooms}:room:{room}:host     string JSON RoomHostRecord, TTL
 *   {p}{rooms}:room:{room}:participants hash peerId → JSON ParticipantRecord, TTL
 *   {p}{rooms}:room:{room}:producers hash producerId → JSON ProducerRecord, TTL
 *   {p}{rooms}:room:{room}:members  set of userIds who may join the room (creator, added, invited);
 *                                    TTL = ROOM_MEMBERSHIP_TTL_SECONDS, refreshed on every join
 * Accounts (RedisAccountStore) — no TTL unless said; production Redis must persist (appendonly yes):
 *   {p}{accounts}:user:{userId}     string JSON UserRecord
 *   {p}{accounts}:phone:{e164}      string userId (the phone index; SET NX makes it unique)
 *   {p}{accounts}:photo:{userId}:full|thumb WebP bytes
 *   {p}{accounts}:user:{userId}:devices set of deviceIds
 *   {p}{accounts}:device:{deviceId} string JSON DeviceRecord, expires with its refresh token
 *   {p}{accounts}:user:{userId}:blocks sorted set of blocked userIds, score = when blocked (ms)
 *   {p}code:{e164}                   hash {hash, expiresAt, attempts}, TTL = code validity
 *   {p}regticket:{ticketId}          string e164, TTL = registration window
 * Calls (RedisCallStore):
 *   {p}{calls}:call:{callId}        string JSON CallRecord, TTL = CALL_RETENTION_SECONDS
 *   {p}{calls}:user:{userId}:call   string callId this user currently has (ringing, calling or in)
 *   {p}{calls}:user:{userId}:calls  list of callIds, newest first, bounded (history)
 *   {p}{calls}:user:{userId}:missed integer: missed calls not yet seen
 * Rate limits (accounts/rateLimits.ts through rate-limiter-flexible, which appends ":{key}"):
 *   {p}rl:{limitName}:{key}          counter, TTL = the limit's window
 * Pub/sub channels (RedisUserMessageBus):
 *   {p}user-messages:{userId}        JSON UserMessage for every device of the user, on any node
 * Sharded pub/sub channels (RedisNodeRelayBus, SPUBLISH/SSUBSCRIBE):
 *   {p}node-relay:{nodeId}           JSON RelayMessage for one node (rooms/relay/relayMessages.ts)
 */

export interface RedisKeys {
  readonly prefix: string;
  // rooms
  readonly nodes: string;
  /** Matches every room key (SCAN/KEYS by operators and tests). */
  readonly roomPattern: string;
  roomHost(room: string): string;
  roomParticipants(room: string): string;
  roomProducers(room: string): string;
  roomMembers(room: string): string;
  // accounts
  user(userId: string): string;
  /** What user keys start with (Lua appends a userId). */
  readonly userPrefix: string;
  phone(e164: string): string;
  photo(userId: string, size: 'full' | 'thumb'): string;
  userDevices(userId: string): string;
  /** What is appended to `userPrefix + userId` for the devices set (Lua builds it at registration). */
  readonly userDevicesSuffix: string;
  device(deviceId: string): string;
  userBlocks(userId: string): string;
  code(e164: string): string;
  registrationTicket(ticketId: string): string;
  // calls
  call(callId: string): string;
  userCurrentCall(userId: string): string;
  /** What call keys of a user start with (Lua appends a userId and the pointer suffix). */
  readonly callUserPrefix: string;
  /** What is appended to `callUserPrefix + userId` for the current-call pointer (Lua builds it). */
  readonly userCurrentCallSuffix: string;
  userCallHistory(userId: string): string;
  userMissedCalls(userId: string): string;
  // rate limits
  rateLimit(limitName: string): string;
  // pub/sub
  userChannel(userId: string): string;
  nodeChannel(nodeId: string): string;
}

export const DEFAULT_KEY_PREFIX = 'cs:';

export function redisKeys(prefix: string = DEFAULT_KEY_PREFIX): RedisKeys {
  const p = prefix;
  // Hash tags (see the header): keys used together in one script or transaction share a slot.
  const rooms = `${p}{rooms}:`;
  const accounts = `${p}{accounts}:`;
  const calls = `${p}{calls}:`;
  return {
    prefix: p,
    nodes: `${rooms}nodes`,
    roomPattern: `${rooms}room:*`,
    roomHost: (room) => `${rooms}room:${room}:host`,
    roomParticipants: (room) => `${rooms}room:${room}:participants`,
    roomProducers: (room) => `${rooms}room:${room}:producers`,
    roomMembers: (room) => `${rooms}room:${room}:members`,

    user: (userId) => `${accounts}user:${userId}`,
    userPrefix: `${accounts}user:`,
    phone: (e164) => `${accounts}phone:${e164}`,
    photo: (userId, size) => `${accounts}photo:${userId}:${size}`,
    userDevices: (userId) => `${accounts}user:${userId}:devices`,
    userDevicesSuffix: ':devices',
    device: (deviceId) => `${accounts}device:${deviceId}`,
    userBlocks: (userId) => `${accounts}user:${userId}:blocks`,
    code: (e164) => `${p}code:${e164}`,
    registrationTicket: (ticketId) => `${p}regticket:${ticketId}`,

    call: (callId) => `${calls}call:${callId}`,
    callUserPrefix: `${calls}user:`,
    userCurrentCall: (userId) => `${calls}user:${userId}:call`,
    userCurrentCallSuffix: ':call',
    userCallHistory: (userId) => `${calls}user:${userId}:calls`,
    userMissedCalls: (userId) => `${calls}user:${userId}:missed`,

    rateLimit: (limitName) => `${p}rl:${limitName}`,

    userChannel: (userId) => `${p}user-messages:${userId}`,
    nodeChannel: (nodeId) => `${p}node-relay:${nodeId}`,
  };
}
