/** Bundles ttffPage.ts (SDK + mediasoup-client) for the browser with esbuild, in memory. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function bundleTtffPage(): Promise<string> {
  const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ttffPage.ts');
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110'],
    // mediasoup-client's debug logger reads process.env in some code paths.
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  return out.outputFiles[0]!.text;
}
