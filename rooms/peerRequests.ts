/**
 * The requests a peer answers itself (its transports, producers and consumers), as one table from
 * protocol method to Peer method. The socket's own node and a relaying host node both dispatch
 * through it, so a request behaves the same whichever node holds the socket, and a method added to
 * the protocol but missing here fails to compile.
 */
import type { RequestData, ResponseData } from '../protocol/signaling.js';
import type { Peer } from './peer.js';

export const PEER_METHODS = [
  'setRtpCapabilities',
  'createTransport',
  'connectTransport',
  'restartIce',
  'produce',
  'produceMany',
  'closeProducer',
  'pauseProducer',
  'resumeProducer',
  'consume',
  'resumeConsumer',
  'setConsumerPreferredLayers',
] as const;

export type PeerMethod = (typeof PEER_METHODS)[number];

type PeerHandlers = { [M in PeerMethod]: (peer: Peer, data: RequestData<M>) => Promise<ResponseData[M]> };

const handlers: PeerHandlers = {
  setRtpCapabilities: (p, d) => p.setRtpCapabilities(d),
  createTransport: (p, d) => p.createTransport(d),
  connectTransport: (p, d) => p.connectTransport(d),
  restartIce: (p, d) => p.restartIce(d),
  produce: (p, d) => p.produce(d),
  produceMany: (p, d) => p.produceMany(d),
  closeProducer: (p, d) => p.closeProducer(d),
  pauseProducer: (p, d) => p.pauseProducer(d),
  resumeProducer: (p, d) => p.resumeProducer(d),
  consume: (p, d) => p.consume(d),
  resumeConsumer: (p, d) => p.resumeConsumer(d),
  setConsumerPreferredLayers: (p, d) => p.setConsumerPreferredLayers(d),
};

/** Runs one of the peer's own requests (its data already validated against the method's schema). */
export function handlePeerRequest<M extends PeerMethod>(
  peer: Peer,
  method: M,
  data: RequestData<M>,
): Promise<ResponseData[M]> {
  return (handlers[method] as (p: Peer, d: RequestData<M>) => Promise<ResponseData[M]>)(peer, data);
}
