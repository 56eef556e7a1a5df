/**
 * What nodes say to each other to relay a room session: the node holding a client's socket (the
 * "edge") asks the node hosting the room (the "host") to join, to run the peer's media requests and
 * to leave; the host answers and forwards the peer's notifications. One zod schema per message, so
 * a node on another version (or anything else publishing on the channel) is refused at the door
 * instead of half-understood.
 *
 * Every relayed room session has an id (`sid`) made by its edge; every request an id (`rid`).
 * `check`/`gone` keep both sides' tables in step without a separate liveness protocol: each side
 * periodically lists the sessions it holds with the other, and the other answers with those it no
 * longer knows (see rooms/relay/roomRelay.ts).
 */
import { z } from 'zod';
import { ErrorCode } from '../../protocol/errors.js';
import { idSchema, mediaSetupSchema, roomNameSchema } from '../../protocol/signaling.js';
import { PEER_METHODS } from '../peerRequests.js';

const nodeId = z.string().min(1).max(128);
const sid = z.string().uuid();
const rid = z.string().uuid();
const errorCodes = Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]];

/** How a relayed request failed, with what the edge needs to rebuild the same ServiceError. */
const errorSchema = z.object({
  code: z.enum(errorCodes),
  message: z.string().max(2048),
  details: z.record(z.string(), z.string()).optional(),
  status: z.number().int().min(100).max(599),
  retryAfterSeconds: z.number().int().nonnegative().optional(),
});

const access = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('member'), invite: z.string().max(512).optional() }),
  z.object({ kind: z.literal('call') }),
]);

export const relayMessageSchema = z.discriminatedUnion('t', [
  // edge → host
  z.object({
    t: z.literal('join'),
    from: nodeId,
    rid,
    sid,
    room: roomNameSchema,
    user: z.object({ userId: idSchema, displayName: z.string().min(1).max(64) }),
    access,
    /** The client's `mediaSetup`: the host makes the transports with the join (see JoinOptions). */
    setup: mediaSetupSchema.optional(),
  }),
  z.object({
    t: z.literal('request'),
    from: nodeId,
    rid,
    sid,
    method: z.enum(PEER_METHODS),
    /** Checked against the method's own request schema by the host. */
    data: z.unknown(),
  }),
  z.object({ t: z.literal('leave'), from: nodeId, sid }),
  // host → edge
  z.object({ t: z.literal('ok'), from: nodeId, rid, data: z.unknown() }),
  z.object({ t: z.literal('error'), from: nodeId, rid, error: errorSchema }),
  /** The room is hosted by another node now (it closed and was claimed anew): join there. */
  z.object({ t: z.literal('moved'), from: nodeId, rid, nodeId }),
  z.object({
    t: z.literal('notify'),
    from: nodeId,
    sid,
    name: z.string().min(1).max(64),
    data: z.unknown(),
  }),
  /** The host's peer closed (room closed, media worker died, left): the edge forgets the session. */
  z.object({ t: z.literal('closed'), from: nodeId, sid }),
  // both ways
  /** "I hold these sessions with you as `side`": the receiver answers `gone` for those it lacks. */
  z.object({
    t: z.literal('check'),
    from: nodeId,
    side: z.enum(['edge', 'host']),
    sids: z.array(sid).max(10_000),
  }),
  z.object({ t: z.literal('gone'), from: nodeId, sids: z.array(sid).max(10_000) }),
]);

export type RelayMessage = z.infer<typeof relayMessageSchema>;
export type RelayError = z.infer<typeof errorSchema>;
export type RelayAccess = z.infer<typeof access>;

/** Parses a message from the bus; undefined (and the reason) when it is not one of ours. */
export function parseRelayMessage(
  raw: string,
): { ok: true; message: RelayMessage } | { ok: false; why: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, why: 'not JSON' };
  }
  const parsed = relayMessageSchema.safeParse(json);
  return parsed.success ? { ok: true, message: parsed.data } : { ok: false, why: parsed.error.message };
}
