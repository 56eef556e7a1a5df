/**
 * What the server itself knows about a room, read straight from the test service's RoomService:
 * participants, and per participant its producers and (resumed) consumers.
 */
import { until } from './poll.js';
import type { startTestService } from './testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

export interface ServerRoomView {
  participants: number;
  perParticipant: { producers: number; consumers: number; resumedConsumers: number }[];
}

export function serverRoomView(service: Service, room: string): ServerRoomView | undefined {
  const r = service.rooms.snapshot(room);
  if (!r) return undefined;
  return {
    participants: r.peers.length,
    perParticipant: r.peers.map((p) => ({
      producers: p.producers.length,
      consumers: p.consumers.length,
      resumedConsumers: p.consumers.filter((c) => !c.paused).length,
    })),
  };
}

/** Polls `check` until it returns true or `timeoutMs` passes (see support/poll.ts). */
export function eventually(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return until(check, { timeoutMs, what, intervalMs: 100 });
}
