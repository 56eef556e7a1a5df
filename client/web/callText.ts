/** Calls in plain words: end messages, history outcomes, durations, name lists. */
import type { AnyCall, CallEndedReason, CallHistoryEntry, CallMedia } from '@calling/sdk';

/** "Bob", "Bob and Carol", "Bob, Carol and Dave". */
export function nameList(names: string[]): string {
  if (names.length <= 1) return names[0] ?? 'Someone';
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`;
}

/** 0:07, 1:05, 1:02:03 */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function mediaWord(media: CallMedia): string {
  return media === 'video' ? 'video call' : 'audio call';
}

/** What the page says when a call is over on this device. */
export function endMessage(call: AnyCall, reason: CallEndedReason): string {
  const others = call.participants;
  const oneToOne = others.length === 1;
  const names = (states: string[]): string =>
    nameList(others.filter((p) => states.includes(p.state)).map((p) => p.name));
  const outgoing = call.direction === 'outgoing';
  const caller = call.direction === 'incoming' ? call.caller.name : '';
  switch (reason) {
    case 'declined':
      if (!outgoing) return 'Call declined';
      return oneToOne ? `${others[0]!.name} declined` : `${names(['declined'])} declined`;
    case 'busy':
      return oneToOne ? `${others[0]!.name} is busy` : 'Everyone you called is busy';
    case 'missed':
      return outgoing ? 'No answer' : `Missed call from ${caller}`;
    case 'cancelled':
      return outgoing ? 'Call cancelled' : `Missed call from ${caller}`;
    case 'answered-elsewhere':
      return 'Answered on another device';
    case 'failed':
      return 'The call could not connect';
    case 'error':
      return 'The call could not continue on this device';
    case 'hung-up':
    default: {
      // Name the people you talked with (those who joined), never a bare "Call ended".
      const talked = names(['joined', 'left']);
      return `Call with ${others.some((p) => p.state === 'joined' || p.state === 'left') ? talked : nameList(others.map((p) => p.name))} ended`;
    }
  }
}

/** The outcome next to a history entry's names (empty for an answered call). */
export function outcomeText(e: CallHistoryEntry): string {
  if (e.missed) return 'Missed';
  switch (e.outcome) {
    case 'declined':
      return e.direction === 'outgoing' ? 'Declined' : 'You declined';
    case 'busy':
      return 'Busy';
    case 'cancelled':
      return 'Cancelled';
    case 'missed':
      return e.direction === 'outgoing' ? 'No answer' : 'Missed';
    case 'answered-elsewhere':
      return 'Answered on another device';
    case 'failed':
      return 'Could not connect';
    case 'ongoing':
      return 'In progress';
    case 'hung-up':
    default:
      // An answered call: the duration says it all.
      return e.durationSeconds > 0 ? '' : 'Not answered';
  }
}
