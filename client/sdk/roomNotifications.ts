/**
 * The notifications about the room a session is in (the others — calls — belong to whoever owns the
 * connection), and a recorder for those that arrive after the join answer but before the session
 * listens (while the Device loads): someone joining or publishing at that moment must not be missed.
 */
import type { NotificationName } from '../../protocol/signaling.js';
import type { SignalingConnection } from './connection.js';

export const ROOM_NOTIFICATIONS = [
  'peerJoined',
  'peerLeft',
  'newProducer',
  'newConsumer',
  'producerClosed',
  'consumerClosed',
  'producerPaused',
  'producerResumed',
  'activeSpeaker',
  'roomClosed',
] as const satisfies readonly NotificationName[];

export type RoomNotification = (typeof ROOM_NOTIFICATIONS)[number];

export interface EarlyNotifications {
  /** Stops recording and returns what was recorded, in order. */
  stop(): { name: RoomNotification; data: unknown }[];
}

export function recordRoomNotifications(s: SignalingConnection): EarlyNotifications {
  const seen: { name: RoomNotification; data: unknown }[] = [];
  const offs = ROOM_NOTIFICATIONS.map((name) => s.on(name, (data: unknown) => seen.push({ name, data })));
  return {
    stop: () => {
      for (const off of offs.splice(0)) off();
      return seen.splice(0);
    },
  };
}
