/**
 * The signaling protocol: every request, response and notification that crosses the WebSocket.
 * Server, SDK and bot all import this file, so a renamed field fails to compile on every side.
 *
 * Wire format (JSON text frames):
 *   client → server  { "id": 7, "method": "join", "data": { ... } }
 *   server → client  { "id": 7, "ok": true, "data": { ... } }
 *                    { "id": 7, "ok": false, "error": { "code": "NOT_IN_ROOM", "message": "..." } }
 *                    { "notification": "peerJoined", "data": { ... }, "seq": 12 }
 *
 * Sequence numbers and resume (issue 10): every notification carries `seq`, counting up from 1 per
 * session (a session outlives its socket when it is resumed; a fresh session starts again at 1; older
 * servers send none, so clients treat it as optional). The answer to `join`/`callJoinMedia` carries a
 * `resumeToken` (random, bound to user + device + peer, single use). When the socket drops — anything
 * but a `leave`, a sign-out/revocation or a server shutdown — the server keeps the peer (transports,
 * producers, consumers, room and call membership; nobody sees `peerLeft`) for RESUME_GRACE_MS. The
 * client opens a new socket (authenticated like any other, with a fresh token if the old one
 * expired) and sends `resume {token, lastSeq}` as its first request, `lastSeq` being the highest
 * `seq` it received from that session. (A socket closed with 4001 because its token expired without
 * a refresh is not resumable: its peer leaves at once.) The answer gives the same `peerId` and a new `resumeToken`;
 * right after it, every notification with seq > lastSeq is sent again in order, then live ones. If
 * the session is gone (grace over, token used or unknown, another node: tokens live in the node
 * holding the peer) or the buffer no longer reaches back to lastSeq, the answer is RESUME_FAILED
 * (the peer, if any, leaves its room) and the client joins again from scratch. The client should
 * restart ICE on both transports after a resume: the network path has probably changed. A socket of
 * a session resumed elsewhere is closed with 4013 (SessionResumed).
 *
 * Token refresh: `refreshToken {token}` replaces the socket's access token before it expires: the new
 * token is verified like the one of the upgrade and must name the same user and device (FORBIDDEN
 * otherwise); the socket's expiry moves to the new token's. Without it the socket closes with 4001
 * at expiry, as before.
 */
import { z } from 'zod';
import type { types as ms } from 'mediasoup-client';
import type { ErrorBody } from './errors.js';
import { dtlsParametersSchema, rtpCapabilitiesSchema, rtpParametersSchema } from './mediaSchemas.js';

/** Largest text frame the server accepts; an SDP-derived rtpParameters object is a few KB. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * Every id a client sends (mediasoup objects, calls, users): UUIDs and `dev-<uuid>` in practice.
 * Checked for format before anything reaches a store, so no id can smuggle a key separator (":")
 * or anything else into a Redis key or a SQL parameter's meaning.
 */
export const idSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only');
const id = idSchema;
export const roomNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N}_.\- ]+$/u, 'letters, digits, spaces, "_", "." and "-" only');
export const displayNameSchema = z.string().trim().min(1).max(64);
/** A signed invite link's token (auth/roomInvites.ts); its signature is checked by the server. */
export const roomInviteSchema = z.string().min(1).max(512);
/** How many users one `roomAddMembers` may add. */
export const MAX_ADD_MEMBERS = 50;

// Everything that reaches mediasoup is checked strictly (see mediaSchemas.ts for why).
const rtpCapabilities = rtpCapabilitiesSchema;
const dtlsParameters = dtlsParametersSchema;
const rtpParameters = rtpParametersSchema;
const appData = z.record(z.string(), z.union([z.string().max(256), z.number(), z.boolean()])).optional();

/**
 * Sent with `join`, `callJoinMedia` or `callWarmMedia` by a client whose Device is loaded already
 * (router capabilities from `mediaCapabilities`): the server then sets the RTP capabilities,
 * creates the transports and answers with them (`transports`), and pushes a paused consumer
 * (`newConsumer`) for every producer the client may receive instead of announcing `newProducer`.
 * Saves setRtpCapabilities, createTransport ×2 and one consume round trip per producer.
 */
export const mediaSetupSchema = z.object({
  rtpCapabilities,
  /** Create a send transport as well (default true; a receive-only client says false). */
  send: z.boolean().optional(),
});
/** Producer ids a client picks for `produceMany` (a UUID: unique in the router, checked there). */
const producerIdSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a lowercase UUID');

export const requestSchemas = {
  /**
   * Enter a room. The first user of a room name creates it and becomes its member; anyone else must
   * be a member already or bring an invite for this room (then they become a member), otherwise
   * FORBIDDEN. Answers with what the client needs to load its Device. `displayName` is accepted from
   * older clients and ignored: peers see the account's name.
   */
  join: z.object({
    room: roomNameSchema,
    displayName: displayNameSchema.optional(),
    invite: roomInviteSchema.optional(),
    mediaSetup: mediaSetupSchema.optional(),
  }),
  /** The routers' RTP capabilities (the same for every room), so a Device loads before any join. */
  mediaCapabilities: z.object({}).strict(),
  /** A member of the room you are in gets a signed, expiring invite to share (as a link). */
  roomInvite: z.object({}).strict(),
  /** A member of the room you are in makes these users members (they may then join by name). */
  roomAddMembers: z.object({ userIds: z.array(id).min(1).max(MAX_ADD_MEMBERS) }),
  /** Tells the server what this client can receive; required before `consume`. */
  setRtpCapabilities: z.object({ rtpCapabilities }),
  createTransport: z.object({ direction: z.enum(['send', 'recv']) }),
  connectTransport: z.object({ transportId: id, dtlsParameters }),
  restartIce: z.object({ transportId: id }),
  produce: z.object({
    transportId: id,
    kind: z.enum(['audio', 'video']),
    rtpParameters,
    appData,
  }),
  /**
   * Audio and video in one request. The client picks the producer ids (mediasoup-client needs an id
   * before its next `produce` may start), so both tracks are negotiated locally first and sent once.
   */
  produceMany: z.object({
    transportId: id,
    producers: z
      .array(z.object({ id: producerIdSchema, kind: z.enum(['audio', 'video']), rtpParameters, appData }))
      .min(1)
      .max(2),
  }),
  closeProducer: z.object({ producerId: id }),
  pauseProducer: z.object({ producerId: id }),
  resumeProducer: z.object({ producerId: id }),
  /** Creates a paused consumer; the client resumes it once its track is wired up. */
  consume: z.object({ transportId: id, producerId: id }),
  resumeConsumer: z.object({ consumerId: id }),
  setConsumerPreferredLayers: z.object({
    consumerId: id,
    spatialLayer: z.number().int().min(0).max(3),
    temporalLayer: z.number().int().min(0).max(3).optional(),
  }),
  leave: z.object({}).strict(),
  /** Replaces this socket's access token before it expires (same user and device); see the header. */
  refreshToken: z.object({ token: z.string().min(1).max(8192) }),
  /** Takes back a session whose socket dropped (see the header); the first request of a new socket. */
  resume: z.object({
    token: idSchema,
    lastSeq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  }),
  /**
   * Liveness: answered at once, in or out of a room. Browsers cannot see WebSocket ping frames, so
   * the SDK asks this when the socket has been quiet or the network may have changed
   * (client/sdk/connectionLiveness.ts); a socket that does not answer is replaced and resumed.
   */
  ping: z.object({}).strict(),

  // Calls: ringing 1:1 and group calls between registered users (see calls/callStateMachine.ts).
  /** Rings every connected device of each callee. One callee is a 1:1 call; several, a group call. */
  callInvite: z.object({ userIds: z.array(id).min(1).max(15), media: z.enum(['audio', 'video']) }),
  /** A device confirms it is ringing (the caller then sees "ringing"). */
  callRinging: z.object({ callId: id }),
  callAccept: z.object({ callId: id }),
  callDecline: z.object({ callId: id }),
  /** The caller gives up before anyone answered. */
  callCancel: z.object({ callId: id }),
  callHangup: z.object({ callId: id }),
  callAddParticipants: z.object({ callId: id, userIds: z.array(id).min(1).max(15) }),
  /** Joins the call's media room (only for participants who accepted); answers like `join`. */
  callJoinMedia: z.object({ callId: id, mediaSetup: mediaSetupSchema.optional() }),
  /**
   * Warm-up while it rings (the caller after `callInvite`, a ringing callee's device): enters the
   * call's media room as a hidden peer — transports, ICE/DTLS and producers ready, but nobody is
   * told of it, nothing of it can be consumed and it receives nothing — so that `callJoinMedia`
   * after the answer only reveals it. Needs `mediaSetup`; answers like `callJoinMedia`.
   */
  callWarmMedia: z.object({ callId: id, mediaSetup: mediaSetupSchema }),
  callGet: z.object({ callId: id }),
  callHistory: z.object({ limit: z.number().int().min(1).max(200).optional() }),
  /** Marks missed calls as seen (the unseen counter goes to 0). */
  callHistorySeen: z.object({}).strict(),
} as const;

export type Method = keyof typeof requestSchemas;
export type RequestData<M extends Method> = z.infer<(typeof requestSchemas)[M]>;

export interface PeerInfo {
  peerId: string;
  userId: string;
  displayName: string;
  producers: ProducerInfo[];
}

export interface ProducerInfo {
  producerId: string;
  kind: 'audio' | 'video';
  paused: boolean;
  /** What it carries, from the producer's appData (e.g. 'screen', 'screen-audio'); absent: camera/microphone. */
  source?: string;
}

export interface TransportOptions {
  id: string;
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
}

/** A TURN relay with time-limited credentials (RTCIceServer's shape); see auth/turnCredentials.ts. */
export interface IceServerInfo {
  urls: string[];
  username: string;
  credential: string;
}

export interface ResponseData {
  join: {
    peerId: string;
    routerRtpCapabilities: ms.RtpCapabilities;
    peers: PeerInfo[];
    /** For `resume` after a dropped socket; absent when the server keeps no session (resume off). */
    resumeToken?: string;
    /** TURN relays for this user's transports (empty when the node has none configured). */
    iceServers: IceServerInfo[];
    /** With `mediaSetup`: the transports the server created (send only if asked for). */
    transports?: { send?: TransportOptions; recv: TransportOptions };
  };
  mediaCapabilities: { routerRtpCapabilities: ms.RtpCapabilities };
  produceMany: { producerIds: string[] };
  setRtpCapabilities: Record<string, never>;
  createTransport: TransportOptions;
  connectTransport: Record<string, never>;
  restartIce: { iceParameters: ms.IceParameters };
  produce: { producerId: string };
  closeProducer: Record<string, never>;
  pauseProducer: Record<string, never>;
  resumeProducer: Record<string, never>;
  consume: {
    consumerId: string;
    producerId: string;
    peerId: string;
    kind: 'audio' | 'video';
    rtpParameters: ms.RtpParameters;
  };
  resumeConsumer: Record<string, never>;
  setConsumerPreferredLayers: Record<string, never>;
  leave: Record<string, never>;
  /** `expiresAt` (Unix seconds): when the socket now closes with 4001 unless refreshed again. */
  refreshToken: { expiresAt: number };
  /** The same peer; `replayed` notifications follow this answer, then live ones. */
  resume: { peerId: string; resumeToken: string; replayed: number };
  ping: Record<string, never>;
  /** `expiresAt` in Unix seconds. */
  roomInvite: { invite: string; expiresAt: number };
  roomAddMembers: Record<string, never>;
  callInvite: { call: CallView };
  callRinging: Record<string, never>;
  callAccept: { call: CallView };
  callDecline: Record<string, never>;
  callCancel: Record<string, never>;
  callHangup: Record<string, never>;
  callAddParticipants: { call: CallView };
  callJoinMedia: ResponseData['join'];
  callWarmMedia: ResponseData['join'];
  callGet: { call: CallView };
  callHistory: { entries: CallHistoryEntry[]; missedUnseen: number };
  callHistorySeen: Record<string, never>;
}

export type CallMedia = 'audio' | 'video';
export type CallState = 'ringing' | 'active' | 'ended';
export type CallEndReason = 'declined' | 'busy' | 'cancelled' | 'missed' | 'hung-up' | 'failed';
/** Per person: how far they got in this call. */
export type CallParticipantState =
  'calling' | 'ringing' | 'joined' | 'left' | 'declined' | 'busy' | 'missed' | 'answered-elsewhere';

export interface UserSummary {
  userId: string;
  name: string;
  photo: { url: string; thumbUrl: string } | null;
}

export interface CallView {
  callId: string;
  /** Incremented on every change of the call: of two views, the lower version is the older. */
  version: number;
  callerId: string;
  media: CallMedia;
  state: CallState;
  createdAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  endReason: CallEndReason | null;
  participants: (UserSummary & { state: CallParticipantState; ringingDevices: number })[];
}

export interface CallHistoryEntry {
  callId: string;
  direction: 'outgoing' | 'incoming';
  media: CallMedia;
  /** Everyone in the call but you. */
  others: UserSummary[];
  startedAt: number;
  /** Seconds you were in the call (0 if you never joined). */
  durationSeconds: number;
  /** Your outcome: e.g. missed (you never answered), declined, answered-elsewhere, or the call's end reason. */
  outcome: CallEndReason | 'answered-elsewhere' | 'ongoing';
  missed: boolean;
}

export interface NotificationData {
  peerJoined: { peerId: string; userId: string; displayName: string };
  peerLeft: { peerId: string };
  newProducer: { peerId: string; producer: ProducerInfo };
  /**
   * To a client that joined with `mediaSetup`: a paused consumer of another peer's producer on its
   * receive transport. The client creates it locally, then sends `resumeConsumer`.
   */
  newConsumer: ResponseData['consume'] & { producerPaused: boolean; source?: string };
  producerClosed: { peerId: string; producerId: string };
  producerPaused: { peerId: string; producerId: string };
  producerResumed: { peerId: string; producerId: string };
  /** The server closed one of this client's consumers (its producer went away). */
  consumerClosed: { consumerId: string };
  activeSpeaker: { peerId: string | null };
  /** How well the SFU receives one of your producers, 0–10 (best of its simulcast streams); sent on change. */
  producerScore: { producerId: string; score: number };
  /**
   * How well you receive one of your consumers (`score`, 0–10, from your RTCP reports) and how well
   * the SFU receives the producer behind it (`producerScore`, the sender's uplink); sent on change.
   */
  consumerScore: {
    consumerId: string;
    score: number;
    producerScore: number;
    /** Per simulcast stream of the producer (0: that layer is not arriving, e.g. the sender dropped it). */
    producerScores: number[];
  };
  /**
   * The simulcast/SVC layer the SFU now forwards on one of your consumers (null: none, e.g. your
   * downlink cannot carry even the lowest); it lowers it when your bandwidth estimate drops.
   */
  consumerLayers: {
    consumerId: string;
    spatialLayer: number | null;
    temporalLayer: number | null;
    /** How many spatial layers the producer offers (3 for the SDK's simulcast camera). */
    spatialLayers: number;
  };
  /** The room can no longer be served (its media worker died); the client should rejoin. */
  roomClosed: { reason: string };
  /** Someone is calling you (sent to every connected device, and again to a device that connects while it rings). */
  callIncoming: { call: CallView; caller: UserSummary };
  /** Any change to a call you are in: ringing, answered, someone joined/left/declined, ended. */
  callUpdated: { call: CallView };
  /** Another of your devices answered: stop ringing here. */
  callAnsweredElsewhere: { callId: string };
  /** Your unseen missed calls changed on another device (e.g. it opened the history): update the badge. */
  callHistoryChanged: { missedUnseen: number };
}
export type NotificationName = keyof NotificationData;

export const requestEnvelopeSchema = z.object({
  id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  method: z.string().min(1).max(64),
  data: z.unknown().optional(),
});

export type ResponseEnvelope =
  { id: number; ok: true; data: unknown } | { id: number | null; ok: false; error: ErrorBody };

export interface NotificationEnvelope<N extends NotificationName = NotificationName> {
  notification: N;
  data: NotificationData[N];
  /** Per session, from 1 (see the header); absent from servers older than resume. */
  seq?: number;
}

export function isMethod(name: string): name is Method {
  return Object.prototype.hasOwnProperty.call(requestSchemas, name);
}
