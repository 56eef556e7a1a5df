/** The SDK's signaling client takes a WebSocket implementation; in Node that is `ws`. */
import WebSocket from 'ws';
import type { WebSocketFactory, WebSocketLike } from '../../client/sdk/signalingClient.js';

// `ws` implements the browser-style onopen/onmessage/onclose properties the SDK uses; its event
// objects are richer than WebSocketLike's, so the structural types differ only in detail.
export const nodeWebSocketFactory: WebSocketFactory = (url, protocols) =>
  new WebSocket(url, protocols, { handshakeTimeout: 10_000 }) as unknown as WebSocketLike;
