export { RoomSession, type JoinOptions, type RemotePeer, type RemoteTrack } from './roomSession.js';
export {
  SignalingClient,
  SignalingError,
  type WebSocketFactory,
  type WebSocketLike,
} from './signalingClient.js';
export { fetchDevToken } from './devToken.js';
export { ErrorCode } from '../../protocol/errors.js';
