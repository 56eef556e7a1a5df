/** Errors the bot raises itself; `code` is what the report and the CLI branch on. */
export type BotErrorCode =
  | 'AUTH_FAILED'
  | 'JOIN_FAILED'
  | 'MEDIA_SETUP_FAILED'
  | 'MEDIA_FILES'
  | 'FFMPEG_MISSING'
  | 'TIMEOUT'
  | 'DISCONNECTED'
  | 'STOPPED'
  | 'BAD_ARGUMENTS';

export class BotError extends Error {
  readonly code: BotErrorCode;
  constructor(code: BotErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BotError';
    this.code = code;
  }
}

/** A short code for any error: ours, the SDK's SignalingError (server codes), or unknown. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return 'UNKNOWN';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Rejects with a TIMEOUT BotError if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BotError('TIMEOUT', `${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
