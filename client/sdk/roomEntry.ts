/**
 * How a session gets into a room: the entry it works on (connection, join answer, ownership), and
 * `enterRoomByName`, the entry of `RoomSession.join` — a connection of its own plus `join`.
 */
import type { Device, types } from 'mediasoup-client';
import type { ResponseData } from '../../protocol/signaling.js';
import { SignalingConnection } from './connection.js';
import { preloadDevice } from './mediaDevice.js';
import type { ReconnectPolicy } from './reconnectPolicy.js';
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
   * Supplies access tokens: once to join, and again whenever the server closes the socket because the
   * token expired (4001), with the refused token as argument; the session then reconnects by itself.
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
}

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
 * Enters by name on a connection of its own. A re-entry (after 4001) opens a new one with a fresh
 * token: the server forgot the peer with the old socket, so there is nothing to resume yet.
 */
export function enterRoomByName(opts: JoinOptions): (ctx: { rejectedToken?: string }) => Promise<RoomEntry> {
  const { token, getToken } = opts;
  const invite = opts.invite;
  return async ({ rejectedToken }) => {
    const signaling = await SignalingConnection.open({
      url: opts.url,
      // The first token is the fixed one if given; a refused one is replaced through getToken.
      getToken: (rejected = rejectedToken) =>
        rejected === undefined ? (token ?? getToken!()) : getToken ? getToken(rejected) : token!,
      webSocketFactory: opts.webSocketFactory,
      // The session re-enters on a connection of its own (a new peer either way).
      reconnectOn: () => false,
    });
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
