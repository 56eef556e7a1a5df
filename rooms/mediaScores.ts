/**
 * Forwards mediasoup's own link-quality signals to the client they concern, as notifications:
 * a producer's score (0–10: how well the SFU receives this client's uplink), a consumer's score
 * (how well this client receives its downlink, from its RTCP receiver reports) with the score of
 * the producer behind it (the sender's uplink), and the simulcast layer the SFU currently forwards
 * to this client (which it lowers when the client's downlink estimate cannot carry more).
 * The SDK turns these into one `excellent | good | poor | lost` per participant
 * (client/sdk/connectionQuality.ts). mediasoup emits each only when it changes, so nothing is
 * throttled here; the listeners live on the media objects and go with them.
 */
import type { types } from 'mediasoup';
import type { NotificationData, NotificationName } from '../protocol/signaling.js';

type Notify = <N extends NotificationName>(name: N, data: NotificationData[N]) => void;

/** Best score among a producer's streams: a simulcast sender whose upper layers stopped still delivers. */
function bestScore(scores: { score: number }[]): number {
  return scores.reduce((best, s) => Math.max(best, s.score), 0);
}

export function reportProducerScores(producer: types.Producer, notify: Notify): void {
  producer.on('score', (scores) => {
    notify('producerScore', { producerId: producer.id, score: bestScore(scores) });
  });
}

export function reportConsumerScores(consumer: types.Consumer, notify: Notify): void {
  consumer.on('score', ({ score, producerScores }) => {
    notify('consumerScore', {
      consumerId: consumer.id,
      score,
      producerScore: producerScores.reduce((best, s) => Math.max(best, s), 0),
      producerScores,
    });
  });
  if (consumer.type !== 'simulcast' && consumer.type !== 'svc') return;
  // "L3T3": the producer offers 3 spatial layers; the client compares the forwarded one with it.
  const mode = consumer.rtpParameters.encodings?.[0]?.scalabilityMode;
  const spatialLayers = Number(/^[LS](\d+)/.exec(mode ?? '')?.[1] ?? 1);
  consumer.on('layerschange', (layers) => {
    notify('consumerLayers', {
      consumerId: consumer.id,
      spatialLayer: layers?.spatialLayer ?? null,
      temporalLayer: layers?.temporalLayer ?? null,
      spatialLayers,
    });
  });
}
