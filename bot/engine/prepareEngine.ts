/**
 * Turns the chosen engine and media settings into an EngineFactory, doing the one-time work
 * first: encoding/loading the replay clip, or installing the wrtc globals. Each engine's
 * native module is imported only when that engine is used.
 */
import { DEFAULT_MEDIA_SPEC, ensureMediaFiles } from '../media/generateMedia.js';
import type { EngineFactory, EngineKind } from './botEngine.js';

export interface EngineSetup {
  engine: EngineKind;
  video: { width: number; height: number; fps: number };
  videoKbps: number;
  /** Real engine: publish three simulcast layers like the web page does. */
  simulcast: boolean;
  mediaCacheDir?: string;
}

export async function prepareEngine(setup: EngineSetup): Promise<EngineFactory> {
  if (setup.engine === 'replay') {
    const [{ loadReplayClip }, { ReplayEngine }] = await Promise.all([
      import('../media/replayClip.js'),
      import('./replay/replayEngine.js'),
    ]);
    const files = await ensureMediaFiles(
      { ...DEFAULT_MEDIA_SPEC, ...setup.video, videoKbps: setup.videoKbps },
      setup.mediaCacheDir,
    );
    const clip = await loadReplayClip(files);
    return (ctx) => new ReplayEngine(ctx, { clip });
  }
  const [{ installWrtcGlobals }, { RealEngine }] = await Promise.all([
    import('./real/wrtcGlobals.js'),
    import('./real/realEngine.js'),
  ]);
  installWrtcGlobals();
  return (ctx) => new RealEngine(ctx, { video: setup.video, simulcast: setup.simulcast });
}
