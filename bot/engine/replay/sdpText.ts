/**
 * Just enough SDP (RFC 8866) parsing for the bridge: the session's and each media section's
 * attributes, in order. No validation beyond structure; the bridge looks for what it needs and
 * throws a typed error when it is missing.
 */
import { BotError } from '../../errors.js';

export interface SdpAttribute {
  name: string;
  /** Text after the first ':' (empty for flag attributes such as `a=rtcp-mux`). */
  value: string;
}

export interface SdpMedia {
  kind: string;
  port: number;
  protocol: string;
  formats: string[];
  attributes: SdpAttribute[];
}

export interface SdpSession {
  attributes: SdpAttribute[];
  media: SdpMedia[];
}

export function parseSdp(text: string): SdpSession {
  const session: SdpSession = { attributes: [], media: [] };
  let current: SdpMedia | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const type = line[0];
    const body = line.slice(2);
    if (type === 'm') {
      const [kind, port, protocol, ...formats] = body.split(' ');
      if (!kind || !port || !protocol)
        throw new BotError('MEDIA_SETUP_FAILED', `bad SDP media line: ${line}`);
      current = { kind, port: Number(port), protocol, formats, attributes: [] };
      session.media.push(current);
    } else if (type === 'a') {
      const colon = body.indexOf(':');
      const attr =
        colon < 0 ? { name: body, value: '' } : { name: body.slice(0, colon), value: body.slice(colon + 1) };
      (current ? current.attributes : session.attributes).push(attr);
    }
  }
  return session;
}

export function attribute(attrs: readonly SdpAttribute[], name: string): string | undefined {
  return attrs.find((a) => a.name === name)?.value;
}

export function attributes(attrs: readonly SdpAttribute[], name: string): string[] {
  return attrs.filter((a) => a.name === name).map((a) => a.value);
}

/** A media-level attribute, falling back to the session level (fingerprint, ice-ufrag …). */
export function mediaOrSessionAttribute(
  session: SdpSession,
  media: SdpMedia,
  name: string,
): string | undefined {
  return attribute(media.attributes, name) ?? attribute(session.attributes, name);
}
