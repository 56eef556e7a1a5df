/**
 * This node's end of the room relay: lets a session whose socket this node holds use a room another
 * node hosts, and serves the sessions other nodes relay to the rooms hosted here. Every node plays
 * both parts over one channel of its own (state/nodeRelayBus.ts):
 *
 *   edge (holds the socket)                         host (holds the room)
 *   join / request / leave  ───────────────────────▶  LocalRoomGateway → Room, Peer
 *   RemoteMembership       ◀───────────────────────  ok / error / moved, notify, closed
 *
 * A relayed request is one message each way (one Redis round trip); it fails with a typed
 * UNAVAILABLE at once if no node listens on the host's channel, and after `requestTimeoutMs` if the
 * host does not answer. Nothing is left behind when either side goes: every `checkIntervalMs` each
 * side lists the sessions it holds with each other node (`check`); a node that is not listening
 * any more is gone (the host leaves those peers; the edge tells its clients the room closed so they
 * rejoin), and a listed session the other side no longer knows is answered `gone` and dropped.
 * A socket closed on the edge sends `leave`; if that is lost, the next check frees the peer.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, ServiceError } from '../../protocol/errors.js';
import {
  requestSchemas,
  type NotificationData,
  type NotificationName,
  type RequestData,
  type ResponseData,
} from '../../protocol/signaling.js';
import type { Logger } from '../../lib/logger.js';
import type { NodeRelayBus } from '../../state/nodeRelayBus.js';
import { toServiceError } from '../../signaling/toServiceError.js';
import type { MediaSetup, Notify } from '../peer.js';
import type { PeerMethod } from '../peerRequests.js';
import { RoomHostedElsewhereError } from '../roomHostedElsewhere.js';
import type { JoinAnswer, RoomGateway, RoomMembership, RoomUser } from '../roomGateway.js';
import type { RoomAccess } from '../roomService.js';
import { parseRelayMessage, type RelayError, type RelayMessage } from './relayMessages.js';
import { RemoteMembership } from './remoteMembership.js';

export interface RoomRelayOptions {
  nodeId: string;
  bus: NodeRelayBus;
  /** The rooms hosted here, for the sessions other nodes relay to this node. */
  local: RoomGateway;
  log: Logger;
  /** How long an edge waits for the host's answer to one request. */
  requestTimeoutMs: number;
  /** How often each side checks the sessions it holds with other nodes. */
  checkIntervalMs: number;
}

/** What a relayed join came to: in, or the room is hosted by another node now. */
export type RemoteJoin = { membership: RoomMembership; joined: JoinAnswer } | { moved: string };

type Answer = Extract<RelayMessage, { t: 'ok' | 'error' | 'moved' }>;
/** `M` without the fields `K`, for each member of a union on its own. */
type Without<M, K extends string> = M extends unknown ? Omit<M, K> : never;
/** A message as sent: the relay adds `from`. */
type Outgoing = Without<RelayMessage, 'from'>;
/** A request as sent: the relay adds `from` and the request id. */
type OutgoingRequest = Without<Extract<RelayMessage, { t: 'join' | 'request' }>, 'from' | 'rid'>;

interface EdgeSession {
  host: string;
  notify: Notify;
  /** Set once the host answered the join. */
  membership: RemoteMembership | undefined;
}

interface HostedSession {
  edge: string;
  /** Set once the local join succeeded. */
  membership: RoomMembership | undefined;
}

interface Pending {
  host: string;
  resolve: (answer: Answer) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

/** What the client sees when the node hosting its room went away: rejoin (through any node). */
export const HOST_LOST_REASON = 'the node hosting the room is gone';
const HOST_CLOSING_REASON = 'the node hosting the room is shutting down';

export class RoomRelay {
  readonly #o: RoomRelayOptions;
  readonly #edge = new Map<string, EdgeSession>();
  readonly #hosted = new Map<string, HostedSession>();
  readonly #pending = new Map<string, Pending>();
  readonly #checker: NodeJS.Timeout;
  #unlisten: () => void = () => undefined;
  #closed = false;

  private constructor(opts: RoomRelayOptions) {
    this.#o = opts;
    this.#checker = setInterval(() => void this.#check(), opts.checkIntervalMs);
    this.#checker.unref();
  }

  static async start(opts: RoomRelayOptions): Promise<RoomRelay> {
    const relay = new RoomRelay(opts);
    try {
      relay.#unlisten = await opts.bus.listen(opts.nodeId, (text) => relay.#receive(text));
    } catch (err) {
      clearInterval(relay.#checker);
      throw err;
    }
    return relay;
  }

  /** Sessions relayed through this node (edge) and served by it (host), for tests and metrics. */
  get counts(): { edge: number; hosted: number } {
    return { edge: this.#edge.size, hosted: this.#hosted.size };
  }

  /** Joins a room hosted by `host` for a session whose socket this node holds. */
  async join(
    host: string,
    roomName: string,
    user: RoomUser,
    notify: Notify,
    access: RoomAccess,
    setup?: MediaSetup,
  ): Promise<RemoteJoin> {
    if (this.#closed) throw new ServiceError(ErrorCode.Unavailable, 'server is shutting down', 503);
    const sid = randomUUID();
    const session: EdgeSession = { host, notify, membership: undefined };
    // Known before the join is sent: the room's notifications may arrive before its answer.
    this.#edge.set(sid, session);
    let answer: Answer;
    try {
      answer = await this.#request(host, {
        t: 'join',
        sid,
        room: roomName,
        user,
        access,
        ...(setup ? { setup } : {}),
      });
    } catch (err) {
      this.#edge.delete(sid);
      // The host may still complete the join after we gave up: undo it (the next check would too).
      this.#post(host, { t: 'leave', sid });
      throw err;
    }
    if (answer.t !== 'ok' || this.#edge.get(sid) !== session) {
      this.#edge.delete(sid);
      if (answer.t === 'moved') return { moved: answer.nodeId };
      if (answer.t === 'error') throw serviceError(answer.error);
      // Closed by the host (or found gone) between its answer and now.
      this.#post(host, { t: 'leave', sid });
      throw new ServiceError(ErrorCode.Unavailable, 'room closed while joining', 503, 1, {
        retryAfterMs: '1000',
      });
    }
    const joined = answer.data as JoinAnswer;
    const membership = new RemoteMembership({
      roomName,
      peerId: joined.peerId,
      request: (method, data) => this.#peerRequest(sid, method, data),
      leave: () => {
        if (this.#edge.get(sid) !== session) return;
        this.#edge.delete(sid);
        this.#post(host, { t: 'leave', sid });
      },
    });
    session.membership = membership;
    return { membership, joined };
  }

  /** Ends every relayed session: edges are told their host is leaving, hosts that we are. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#checker);
    for (const [sid, s] of this.#hosted) {
      this.#hosted.delete(sid);
      this.#post(s.edge, {
        t: 'notify',
        sid,
        name: 'roomClosed',
        data: { reason: HOST_CLOSING_REASON } satisfies NotificationData['roomClosed'],
      });
      this.#post(s.edge, { t: 'closed', sid });
      s.membership?.leave();
    }
    for (const [sid, s] of this.#edge) {
      this.#edge.delete(sid);
      this.#post(s.host, { t: 'leave', sid });
      s.membership?.end();
    }
    for (const [rid, p] of this.#pending) {
      this.#pending.delete(rid);
      clearTimeout(p.timer);
      p.reject(new ServiceError(ErrorCode.Unavailable, 'server is shutting down', 503));
    }
    this.#unlisten();
  }

  // ---- edge side ---------------------------------------------------------------------------------

  async #peerRequest<M extends PeerMethod>(
    sid: string,
    method: M,
    data: RequestData<M>,
  ): Promise<ResponseData[M]> {
    const session = this.#edge.get(sid);
    if (!session?.membership) throw new ServiceError(ErrorCode.NotInRoom, 'join a room first');
    const answer = await this.#request(session.host, { t: 'request', sid, method, data });
    if (answer.t === 'ok') return answer.data as ResponseData[M];
    if (answer.t === 'error') throw serviceError(answer.error);
    throw new ServiceError(ErrorCode.NotInRoom, 'the room moved; join again');
  }

  /** Sends a request and resolves with the host's answer; UNAVAILABLE if nobody listens or answers. */
  #request(host: string, message: OutgoingRequest): Promise<Answer> {
    const rid = randomUUID();
    return new Promise<Answer>((resolve, reject) => {
      const fail = (error: unknown): void => {
        const p = this.#pending.get(rid);
        if (!p) return;
        this.#pending.delete(rid);
        clearTimeout(p.timer);
        reject(error);
      };
      const timer = setTimeout(
        () => fail(unavailable('the node hosting the room did not answer in time')),
        this.#o.requestTimeoutMs,
      );
      this.#pending.set(rid, { host, resolve, reject, timer });
      this.#o.bus.send(host, JSON.stringify({ ...message, rid, from: this.#o.nodeId })).then((receivers) => {
        if (receivers === 0) fail(unavailable('the node hosting the room is unreachable', HOST_UNREACHABLE));
      }, fail);
    });
  }

  #answered(m: Answer): void {
    const p = this.#pending.get(m.rid);
    // A late answer (timed out already) or one from a node we did not ask is dropped.
    if (!p || p.host !== m.from) return;
    this.#pending.delete(m.rid);
    clearTimeout(p.timer);
    p.resolve(m);
  }

  #notified(m: Extract<RelayMessage, { t: 'notify' }>): void {
    const s = this.#edge.get(m.sid);
    if (!s || s.host !== m.from) return this.#post(m.from, { t: 'gone', sids: [m.sid] });
    // Only the host's room sends these, and it speaks the same protocol module.
    s.notify(m.name as NotificationName, m.data as NotificationData[NotificationName]);
  }

  /** The host's side of the session ended: forget it, and tell the session's owner. */
  #hostEnded(sid: string, from: string, reason?: string): void {
    const s = this.#edge.get(sid);
    if (!s || s.host !== from) return;
    this.#edge.delete(sid);
    if (reason) s.notify('roomClosed', { reason });
    s.membership?.end();
  }

  // ---- host side ---------------------------------------------------------------------------------

  async #serveJoin(m: Extract<RelayMessage, { t: 'join' }>): Promise<void> {
    const { sid, from } = m;
    if (this.#closed) return this.#post(from, { t: 'error', rid: m.rid, error: relayError(shuttingDown()) });
    const entry: HostedSession = { edge: from, membership: undefined };
    this.#hosted.set(sid, entry);
    const notify: Notify = (name, data) => this.#post(from, { t: 'notify', sid, name, data });
    let membership: RoomMembership;
    let joined: JoinAnswer;
    try {
      ({ membership, joined } = await this.#o.local.join(m.room, m.user, notify, m.access, {
        setup: m.setup,
      }));
    } catch (err) {
      if (this.#hosted.get(sid) === entry) this.#hosted.delete(sid);
      if (err instanceof RoomHostedElsewhereError)
        return this.#post(from, { t: 'moved', rid: m.rid, nodeId: err.nodeId });
      return this.#post(from, { t: 'error', rid: m.rid, error: relayError(toServiceError(err)) });
    }
    if (this.#hosted.get(sid) !== entry) {
      // The edge left (or was found gone) while the join was in progress.
      membership.leave();
      return;
    }
    entry.membership = membership;
    // Answered before the end listener is set, so `closed` can never overtake the answer.
    this.#post(from, { t: 'ok', rid: m.rid, data: joined });
    membership.onEnded(() => {
      if (this.#hosted.get(sid) !== entry) return;
      this.#hosted.delete(sid);
      this.#post(from, { t: 'closed', sid });
    });
  }

  async #serveRequest(m: Extract<RelayMessage, { t: 'request' }>): Promise<void> {
    const membership = this.#hostedBy(m.sid, m.from)?.membership;
    // Checked by the edge already; checked again here, where it reaches mediasoup.
    const data = requestSchemas[m.method].safeParse(m.data);
    let answer: Outgoing;
    if (!membership) {
      answer = {
        t: 'error',
        rid: m.rid,
        error: relayError(new ServiceError(ErrorCode.NotInRoom, 'not in this room any more; join again')),
      };
    } else if (!data.success) {
      answer = {
        t: 'error',
        rid: m.rid,
        error: relayError(new ServiceError(ErrorCode.InvalidParams, 'invalid relayed request')),
      };
    } else {
      try {
        const result = await membership.request(m.method, data.data as RequestData<typeof m.method>);
        answer = { t: 'ok', rid: m.rid, data: result };
      } catch (err) {
        const error = toServiceError(err);
        if (error.code === ErrorCode.Internal)
          this.#o.log.error('relayed request failed', { method: m.method, error: err });
        answer = { t: 'error', rid: m.rid, error: relayError(error) };
      }
    }
    this.#post(m.from, answer);
  }

  #hostedBy(sid: string, edge: string): HostedSession | undefined {
    const s = this.#hosted.get(sid);
    return s?.edge === edge ? s : undefined;
  }

  /** The edge's side of the session ended: the peer leaves its room. */
  #edgeEnded(sid: string, from: string): void {
    const s = this.#hostedBy(sid, from);
    if (!s) return;
    this.#hosted.delete(sid);
    s.membership?.leave();
  }

  // ---- both sides --------------------------------------------------------------------------------

  #receive(text: string): void {
    const parsed = parseRelayMessage(text);
    if (!parsed.ok) {
      this.#o.log.warn('relay: message refused', { why: parsed.why.slice(0, 200) });
      return;
    }
    const m = parsed.message;
    switch (m.t) {
      case 'join':
        return void this.#serveJoin(m);
      case 'request':
        return void this.#serveRequest(m);
      case 'leave':
        return this.#edgeEnded(m.sid, m.from);
      case 'ok':
      case 'error':
      case 'moved':
        return this.#answered(m);
      case 'notify':
        return this.#notified(m);
      case 'closed':
        return this.#hostEnded(m.sid, m.from);
      case 'check': {
        const known = (sid: string): boolean =>
          m.side === 'edge'
            ? this.#hostedBy(sid, m.from) !== undefined
            : this.#edge.get(sid)?.host === m.from;
        const gone = m.sids.filter((sid) => !known(sid));
        if (gone.length > 0) this.#post(m.from, { t: 'gone', sids: gone });
        return;
      }
      case 'gone':
        for (const sid of m.sids) {
          this.#edgeEnded(sid, m.from);
          this.#hostEnded(sid, m.from, HOST_LOST_REASON);
        }
        return;
    }
  }

  /** Lists the sessions held with each other node; a node nobody listens for any more is gone. */
  async #check(): Promise<void> {
    const edgeSids = groupBy(
      [...this.#edge].filter(([, s]) => s.membership !== undefined),
      (s) => s.host,
    );
    const hostSids = groupBy(
      [...this.#hosted].filter(([, s]) => s.membership !== undefined),
      (s) => s.edge,
    );
    const checks = [
      ...[...edgeSids].map(([node, sids]) => ({ node, side: 'edge' as const, sids })),
      ...[...hostSids].map(([node, sids]) => ({ node, side: 'host' as const, sids })),
    ];
    await Promise.all(
      checks.map(async ({ node, side, sids }) => {
        let receivers: number;
        try {
          receivers = await this.#send(node, { t: 'check', side, sids });
        } catch (error) {
          // The bus is down: nothing can be concluded about the other node.
          this.#o.log.debug('relay: check not sent', { node, error });
          return;
        }
        if (receivers > 0) return;
        this.#o.log.info('relay: node gone, ending its relayed sessions', { node, sessions: sids.length });
        for (const sid of sids) {
          if (side === 'edge') this.#hostEnded(sid, node, HOST_LOST_REASON);
          else this.#edgeEnded(sid, node);
        }
      }),
    );
  }

  #send(node: string, message: Outgoing): Promise<number> {
    return this.#o.bus.send(node, JSON.stringify({ ...message, from: this.#o.nodeId }));
  }

  /** Sends without waiting; a failure is logged (the checks repair what a lost message leaves). */
  #post(node: string, message: Outgoing): void {
    this.#send(node, message).catch((error: unknown) =>
      this.#o.log.warn('relay: message not sent', { node, t: message.t, error }),
    );
  }
}

function groupBy<V>(entries: [string, V][], key: (v: V) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [sid, v] of entries) {
    const k = key(v);
    const list = out.get(k) ?? [];
    list.push(sid);
    out.set(k, list);
  }
  return out;
}

function unavailable(message: string, reason?: string): ServiceError {
  return new ServiceError(ErrorCode.Unavailable, message, 503, 1, {
    retryAfterMs: '1000',
    ...(reason ? { reason } : {}),
  });
}

/** Nobody listens on the host node's channel: its process is gone (killed, crashed, cut off). */
export function isHostUnreachable(err: unknown): boolean {
  return err instanceof ServiceError && err.details?.reason === HOST_UNREACHABLE;
}
const HOST_UNREACHABLE = 'host-unreachable';

function shuttingDown(): ServiceError {
  return new ServiceError(ErrorCode.Unavailable, 'server is shutting down', 503);
}

function relayError(e: ServiceError): RelayError {
  return {
    code: e.code,
    message: e.message,
    status: e.status,
    ...(e.details ? { details: e.details } : {}),
    ...(e.retryAfterSeconds !== undefined ? { retryAfterSeconds: e.retryAfterSeconds } : {}),
  };
}

function serviceError(e: RelayError): ServiceError {
  return new ServiceError(e.code, e.message, e.status, e.retryAfterSeconds, e.details);
}
