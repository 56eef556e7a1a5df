/**
 * How a session gets into a room: the entry it works on (connection, join answer, ownership), and
 * `enterRoomByName`, the entry of `RoomSession.join` — a connection of its own plus `join`.
 */
import type { Device, types } from 'mediasoup-client';
import type { ResponseData } from '../../protocol/signaling.js';
import { CloseCode } from '../../protocol/errors.js';
import { SignalingConnection } from './connection.js';
import { preloadDevice } from './mediaDevice.js';
import { DefaultReconnectPolicy, type ReconnectPolicy } from './reconnectPolicy.js';
import type { IceRecoveryOptions } from './iceRecovery.js';
import type { WebSocketFactory } from './signalingClient.js';

/** Re-entering after the connection was lost: attempts (default 4), first back-off (default 500 ms, doubling). */
export interface ReconnectOptions {
  attempts?: number;
  backoffMs?: number;
  /** Replaces the two above. */
  policy?: ReconnectPolicy;
}

export interface JoinOptions {
  /** ws:// or wss:// URL of the signaling endpoint, e.g. ws://host:3000/ws */
  url: string;
  /** A fixed access token. The session ends when it expires (close 4001). Give this or `getToken`. */
  token?: string;
  /**
   * Supplies access tokens: once to join, again ahead of each token's expiry (with the current token
   * as argument; the new one replaces it on the open socket), and after a 4001 close (with the refused
   * one); the session then reconnects and resumes by itself.
   * `(rejected) => accountClient.getAccessToken(rejected)` fits.
   */
  getToken?: (rejectedToken?: string) => Promise<string>;
  room: string;
  /**
   * An invite to the room (from a member's `createInvite`, e.g. out of an invite link). Needed to
   * join someone else's room the first time, which makes you a member. It is sent again on
   * re-entries (a fresh development token is a new user), and the server still admits a member
   * whose invite has expired since. The first user of a room name needs none: they create it.
   */
  invite?: string;
  displayName?: string;
  deviceOptions?: types.DeviceOptions;
  webSocketFactory?: WebSocketFactory;
  /** Re-entering after 4001 (only with `getToken`). */
  reconnect?: ReconnectOptions;
  /** 'relay': media only through the TURN relays the server hands out (default 'all'). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** ICE restarts while signaling is up, and when a transport that stays down forces a re-entry. */
  iceRecovery?: IceRecoveryOptions;
}

/**
 * How the room's own connection retries a lost socket: for a minute, at most 4 s apart. Resuming
 * must be tried for longer than the server's grace (RESUME_GRACE_MS, 15 s) plus its dead-socket
 * detection (two ping intervals), and a few attempts after an outage of tens of seconds still pay
 * off as a clean re-entry; a fixed count of fast attempts would all fall inside one outage.
 */
const ROOM_CONNECTION_POLICY = (): ReconnectPolicy =>
  new DefaultReconnectPolicy({ maxAttempts: 40, maxDelayMs: 4_000, maxElapsedMs: 60_000 });

/** A room entered on a signaling connection: what `RoomSession.attach` gets from its `enter`. */
export interface RoomEntry {
  signaling: SignalingConnection;
  /** The server's answer to `join` (or to a request that answers like it, e.g. `callJoinMedia`). */
  joined: ResponseData['join'];
  /**
   * Whether the session owns the connection: it closes it when it ends. A connection that belongs to
   * someone else (a CallClient's) stays open; the session only leaves the room and stops listening.
   */
  ownsSignaling: boolean;
  /** The access token the connection was opened with; handed back to `enter` as `rejectedToken`. */
  token?: string;
  /**
   * The loaded Device whose capabilities the join carried (`mediaSetup`); then `joined.transports`
   * holds the transports and the server pushes consumers. Without it the session loads a Device
   * from the answer and sets up the old way.
   */
  device?: Device;
}

/**
 * Enters by name on a connection of its own. The connection reconnects by itself (with a fresh token
 * after a 4001 when `getToken` is given) and resumes the session; when the server cannot resume it,
 * the re-entry joins again on that same connection. A connection that gave up is replaced.
 */
export function enterRoomByName(opts: JoinOptions): (ctx: { rejectedToken?: string }) => Promise<RoomEntry> {
  const { token, getToken } = opts;
  const invite = opts.invite;
  let reusable: SignalingConnection | undefined;
  return async ({ rejectedToken }) => {
    const signaling =
      reusable && reusable.state !== 'closed'
        ? reusable
        : await SignalingConnection.open({
            url: opts.url,
            // The first token is the fixed one if given; a refused one is replaced through getToken.
            getToken: (rejected = rejectedToken) =>
              rejected === undefined ? (token ?? getToken!()) : getToken ? getToken(rejected) : token!,
            webSocketFactory: opts.webSocketFactory,
            // A fixed token cannot come back from its expiry; anything else is worth a new socket.
            reconnectOn: (code) =>
              code !== 1000 &&
              code !== CloseCode.TokenInvalid &&
              (code !== CloseCode.TokenExpired || !!getToken),
            policy: opts.reconnect?.policy ?? ROOM_CONNECTION_POLICY(),
          });
    reusable = signaling;
    try {
      // A Device loaded ahead lets the join carry what creating the transports needs.
      const device = await preloadDevice(signaling, opts.deviceOptions);
      const joined = await signaling.request('join', {
        room: opts.room,
        ...(opts.displayName ? { displayName: opts.displayName } : {}),
        ...(invite ? { invite } : {}),
        ...(device ? { mediaSetup: { rtpCapabilities: device.rtpCapabilities as never } } : {}),
      });
      return {
        signaling,
        joined,
        ownsSignaling: true,
        token: signaling.token,
        ...(device ? { device } : {}),
      };
    } catch (err) {
      signaling.close();
      throw err;
    }
  };
}
