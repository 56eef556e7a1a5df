/** The SDK's signaling client takes a WebSocket implementation; in Node that is `ws`. */
import WebSocket from 'ws';
import type { WebSocketFactory, WebSocketLike } from '../../client/sdk/signalingClient.js';

// `ws` implements the browser-style onopen/onmessage/onclose properties the SDK uses; its event
// objects are richer than WebSocketLike's, so the structural types differ only in detail.
// `allowSynchronousEvents: false` gives each message a task of its own, as a browser does: by
// default `ws` emits every message of one TCP read in a row, so notifications that follow an
// answer in the same read reach the SDK before the code awaiting that answer has run (and starts
// listening) — a room session would miss the consumers pushed right after its join answer.
export const nodeWebSocketFactory: WebSocketFactory = (url, protocols) =>
  new WebSocket(url, protocols, {
    handshakeTimeout: 10_000,
    allowSynchronousEvents: false,
  }) as unknown as WebSocketLike;
