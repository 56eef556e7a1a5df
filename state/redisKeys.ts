/**
 * Every Redis key and pub/sub channel of the project, in one place (as LiveKit's routing/redis.go),
 * so a newcomer or an operator reading `redis-cli --scan` can tell what each key is, who writes it,
 * and how long it lives. Stores never build key strings themselves; they ask this module.
 *
 * All keys start with a deployment prefix (default "cs:"; tests use one per run).
 *
 * Rooms (RedisRoomStateStore) — expire unless the hosting node heartbeats:
 *   {p}nodes                         hash nodeId → {"expiresAt": ms on Redis's clock, "node": NodeRecord}
 *                                    node list and liveness (a field is alive until its expiresAt)
 *   {p}node:{nodeId}:rooms           set of room names the node claimed (so a dead node's rooms can be
 *                                    purged without a SCAN), TTL, deleted with the node
 *   {p}room:{room}:host              string JSON RoomHostRecord, TTL
 *   {p}room:{room}:participants      hash peerId → JSON ParticipantRecord, TTL
 *   {p}room:{room}:producers         hash producerId → JSON ProducerRecord, TTL
 *   {p}room:{room}:members           set of userIds who may join the room (creator, added, invited);
 *                                    TTL = ROOM_MEMBERSHIP_TTL_SECONDS, refreshed on every join
 * Accounts (RedisAccountStore) — no TTL unless said; production Redis must persist (appendonly yes):
 *   {p}user:{userId}                 string JSON UserRecord
 *   {p}phone:{e164}                  string userId (the phone index; SET NX makes it unique)
 *   {p}photo:{userId}:full|thumb     WebP bytes
 *   {p}user:{userId}:devices         set of deviceIds
 *   {p}device:{deviceId}             string JSON DeviceRecord, expires with its refresh token
 *   {p}user:{userId}:blocks          sorted set of blocked userIds, score = when blocked (ms)
 *   {p}code:{e164}                   hash {hash, expiresAt, attempts}, TTL = code validity
 *   {p}regticket:{ticketId}          string e164, TTL = registration window
 * Calls (RedisCallStore):
 *   {p}call:{callId}                 string JSON CallRecord, TTL = CALL_RETENTION_SECONDS
 *   {p}calls:open                    set of callIds not ended yet (the call sweeper's work list)
 *   {p}user:{userId}:call            string callId this user currently has (ringing, calling or in)
 *   {p}user:{userId}:calls           list of callIds, newest first, bounded (history)
 *   {p}user:{userId}:missed          integer: missed calls not yet seen
 * Leases (state/lease.ts):
 *   {p}lease:{job}                   string: the node holding the job (the call sweeper), PX expiry
 * Rate limits (accounts/rateLimits.ts through rate-limiter-flexible, which appends ":{key}"):
 *   {p}rl:{limitName}:{key}          counter, TTL = the limit's window
 * Pub/sub channels (RedisUserMessageBus):
 *   {p}user-messages:{userId}        JSON UserMessage for every device of the user, on any node
 */

export interface RedisKeys {
  readonly prefix: string;
  // rooms
  readonly nodes: string;
  nodeRooms(nodeId: string): string;
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
  readonly openCalls: string;
  userCurrentCall(userId: string): string;
  /** What is appended to `userPrefix + userId` for the current-call pointer (Lua builds it). */
  readonly userCurrentCallSuffix: string;
  userCallHistory(userId: string): string;
  userMissedCalls(userId: string): string;
  // leases
  lease(job: string): string;
  // rate limits
  rateLimit(limitName: string): string;
  // pub/sub
  userChannel(userId: string): string;
}

export const DEFAULT_KEY_PREFIX = 'cs:';

export function redisKeys(prefix: string = DEFAULT_KEY_PREFIX): RedisKeys {
  const p = prefix;
  return {
    prefix: p,
    nodes: `${p}nodes`,
    nodeRooms: (nodeId) => `${p}node:${nodeId}:rooms`,
    roomHost: (room) => `${p}room:${room}:host`,
    roomParticipants: (room) => `${p}room:${room}:participants`,
    roomProducers: (room) => `${p}room:${room}:producers`,
    roomMembers: (room) => `${p}room:${room}:members`,

    user: (userId) => `${p}user:${userId}`,
    userPrefix: `${p}user:`,
    phone: (e164) => `${p}phone:${e164}`,
    photo: (userId, size) => `${p}photo:${userId}:${size}`,
    userDevices: (userId) => `${p}user:${userId}:devices`,
    userDevicesSuffix: ':devices',
    device: (deviceId) => `${p}device:${deviceId}`,
    userBlocks: (userId) => `${p}user:${userId}:blocks`,
    code: (e164) => `${p}code:${e164}`,
    registrationTicket: (ticketId) => `${p}regticket:${ticketId}`,

    call: (callId) => `${p}call:${callId}`,
    openCalls: `${p}calls:open`,
    userCurrentCall: (userId) => `${p}user:${userId}:call`,
    userCurrentCallSuffix: ':call',
    userCallHistory: (userId) => `${p}user:${userId}:calls`,
    userMissedCalls: (userId) => `${p}user:${userId}:missed`,

    lease: (job) => `${p}lease:${job}`,
    rateLimit: (limitName) => `${p}rl:${limitName}`,

    userChannel: (userId) => `${p}user-messages:${userId}`,
  };
}
