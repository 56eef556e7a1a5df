/**
 * Turns one WebSocket frame into a validated request, or into the typed error to answer it with.
 * Kept apart from the session so the session only maps requests to their owners.
 */
import type { RawData } from 'ws';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import {
  MAX_MESSAGE_BYTES,
  isMethod,
  requestEnvelopeSchema,
  requestSchemas,
  type Method,
} from '../protocol/signaling.js';

export type ParsedFrame =
  | { ok: true; id: number; method: Method; data: unknown }
  /** `method` is set when the frame named a method (for per-method metrics). */
  | { ok: false; id: number | null; method?: string; error: ServiceError };

export function parseFrame(raw: RawData, isBinary: boolean): ParsedFrame {
  const size = Array.isArray(raw) ? raw.reduce((n, b) => n + b.length, 0) : raw.byteLength;
  if (size > MAX_MESSAGE_BYTES) {
    const error = new ServiceError(
      ErrorCode.MessageTooLarge,
      `messages are limited to ${MAX_MESSAGE_BYTES} bytes`,
    );
    return { ok: false, id: null, error };
  }
  if (isBinary) {
    return {
      ok: false,
      id: null,
      error: new ServiceError(ErrorCode.MalformedMessage, 'binary frames are not accepted'),
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(
      Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.concat(toBuffers(raw)).toString('utf8'),
    );
  } catch {
    return {
      ok: false,
      id: null,
      error: new ServiceError(ErrorCode.MalformedMessage, 'frame is not valid JSON'),
    };
  }
  const envelope = requestEnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    const error = new ServiceError(
      ErrorCode.MalformedMessage,
      'expected {"id": number, "method": string, "data"?: object}',
    );
    return { ok: false, id: extractId(json), error };
  }
  const { id, method, data } = envelope.data;
  if (!isMethod(method)) {
    const error = new ServiceError(ErrorCode.UnknownMethod, `unknown method "${method}"`);
    return { ok: false, id, method: 'unknown', error };
  }
  const parsed = requestSchemas[method].safeParse(data ?? {});
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`).join('; ');
    return {
      ok: false,
      id,
      method,
      error: new ServiceError(ErrorCode.InvalidParams, `${method}: ${detail}`),
    };
  }
  return { ok: true, id, method, data: parsed.data };
}

function extractId(json: unknown): number | null {
  if (typeof json === 'object' && json !== null && 'id' in json && Number.isSafeInteger(json.id)) {
    return json.id as number;
  }
  return null;
}

function toBuffers(raw: RawData): Buffer[] {
  if (Array.isArray(raw)) return raw;
  return [Buffer.from(raw as ArrayBuffer)];
}
