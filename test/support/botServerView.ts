/**
 * What the server itself knows about a room, read straight from the test service's RoomService:
 * participants, and per participant its producers and (resumed) consumers.
 */
import type { startTestService } from './testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

export interface ServerRoomView {
  participants: number;
  perParticipant: { producers: number; consumers: number; resumedConsumers: number }[];
}

export function serverRoomView(service: Service, room: string): ServerRoomView | undefined {
  const r = service.rooms.room(room);
  if (!r) return undefined;
  return {
    participants: r.size,
    perParticipant: [...r.participants].map((p) => {
      const consumers = [...p.endpoint.consumers.values()];
      return {
        producers: p.endpoint.producers.size,
        consumers: consumers.length,
        resumedConsumers: consumers.filter((c) => !c.paused).length,
      };
    }),
  };
}

/** Polls `check` every 100 ms until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
