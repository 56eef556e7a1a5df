import type { NotificationData, NotificationName } from '../protocol/signaling.js';
import type { MediaEndpoint } from '../sfu/mediaEndpoint.js';

export type Notify = <N extends NotificationName>(name: N, data: NotificationData[N]) => void;

/** A person in a room on this node: who they are, their media endpoint, and how to reach them. */
export interface Participant {
  readonly peerId: string;
  readonly userId: string;
  readonly displayName: string;
  readonly joinedAt: number;
  readonly endpoint: MediaEndpoint;
  readonly notify: Notify;
}
