/** Bundles networkPage.ts (SDK + mediasoup-client) for the browser with esbuild, in memory, once. */
import path from 'node:path';
import { build } from 'esbuild';

let bundled: Promise<string> | undefined;

export function networkPageScript(): Promise<string> {
  bundled ??= build({
    entryPoints: [path.join(import.meta.dirname, 'networkPage.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110'],
    // mediasoup-client's debug logger reads process.env in some code paths.
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  }).then((out) => out.outputFiles[0]!.text);
  return bundled;
}
