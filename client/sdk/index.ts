export {
  RoomSession,
  type AttachOptions,
  type JoinOptions,
  type ReconnectOptions,
  type RemotePeer,
  type RemoteTrack,
  type RoomEntry,
} from './roomSession.js';
export { parseRoomInviteLink, roomInviteLink } from './roomInviteLink.js';
export { qualityOfScore, type ConnectionQuality } from './connectionQuality.js';
export {
  Call,
  type AnyCall,
  IncomingCall,
  OutgoingCall,
  type CallEndedReason,
  type CallMediaState,
  type CallParticipant,
  type CallTrack,
} from './call.js';
export { CallClient, type CallClientOptions, type CallConnectionState } from './callClient.js';
export {
  SignalingConnection,
  type ConnectionOptions,
  type ConnectionState,
  type Disconnect,
  type ReconnectAttempt,
  type Reconnected,
} from './connection.js';
export {
  DefaultReconnectPolicy,
  isFatalError,
  type BackoffOptions,
  type ReconnectContext,
  type ReconnectPolicy,
} from './reconnectPolicy.js';
export type {
  CallEndReason,
  CallHistoryEntry,
  CallMedia,
  CallParticipantState,
  CallState,
  CallView as CallInfo,
  UserSummary,
} from '../../protocol/signaling.js';
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
  CookieSessionTokenStore,
  LocalStorageTokenStore,
  MemoryTokenStore,
  type StoredSession,
  type TokenStore,
} from './tokenStore.js';
export { ErrorCode } from '../../protocol/errors.js';
