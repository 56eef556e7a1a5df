export {
  RoomSession,
  type AttachOptions,
  type JoinOptions,
  type RemotePeer,
  type RemoteTrack,
  type RoomEntry,
} from './roomSession.js';
export {
  Call,
  CallClient,
  type AnyCall,
  IncomingCall,
  OutgoingCall,
  signalingUrlFor,
  type CallClientOptions,
  type CallConnectionState,
  type CallEndedReason,
  type CallMediaState,
  type CallParticipant,
  type CallTrack,
} from './callClient.js';
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
  LocalStorageTokenStore,
  MemoryTokenStore,
  type StoredSession,
  type TokenStore,
} from './tokenStore.js';
export { ErrorCode } from '../../protocol/errors.js';
