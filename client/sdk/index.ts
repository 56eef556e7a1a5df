export { RoomSession, type JoinOptions, type RemotePeer, type RemoteTrack } from './roomSession.js';
export {
  SignalingClient,
  SignalingError,
  type WebSocketFactory,
  type WebSocketLike,
} from './signalingClient.js';
export { fetchDevToken } from './devToken.js';
export {
  AccountClient,
  ApiError,
  type AccountClientOptions,
  type ApiErrorCode,
  type CodeRequested,
  type ContactMatch,
  type Device as AccountDevice,
  type Session,
  type User,
  type UserPhoto,
  type VerifyResult,
} from './accountClient.js';
export {
  LocalStorageTokenStore,
  MemoryTokenStore,
  type StoredSession,
  type TokenStore,
} from './tokenStore.js';
export { ErrorCode } from '../../protocol/errors.js';
