/**
 * Invite links to a room as the web page shares them: `<page>#room=<name>&invite=<token>`. Kept in
 * the fragment so the invite never reaches a server's access log or a Referer header.
 */

/** The link someone opens to join `room` with `invite` on the page at `pageUrl`. */
export function roomInviteLink(pageUrl: string, room: string, invite: string): string {
  const url = new URL(pageUrl);
  url.hash = new URLSearchParams({ room, invite }).toString();
  return url.toString();
}

/** The room and invite of a link's fragment (`#room=…&invite=…`), or undefined if it has none. */
export function parseRoomInviteLink(hash: string): { room: string; invite: string } | undefined {
  const params = new URLSearchParams(hash.startsWith('#') ? hash.slice(1) : hash);
  const room = params.get('room');
  const invite = params.get('invite');
  return room && invite ? { room, invite } : undefined;
}
