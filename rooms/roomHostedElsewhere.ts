/**
 * Thrown by RoomService.join when another live node hosts the room. Not a ServiceError on purpose:
 * it never reaches a client. The room gateway (rooms/relay/anyNodeRoomGateway.ts) catches it and
 * relays the session to that node instead.
 */
export class RoomHostedElsewhereError extends Error {
  readonly room: string;
  readonly nodeId: string;

  constructor(room: string, nodeId: string) {
    super(`room ${room} is hosted by node ${nodeId}`);
    this.name = 'RoomHostedElsewhereError';
    this.room = room;
    this.nodeId = nodeId;
  }
}
