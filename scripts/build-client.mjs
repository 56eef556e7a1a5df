// Bundles the web page (SDK + mediasoup-client) into dist/client with esbuild. The page imports the
// SDK by its package name (@calling/sdk, an npm workspace); the '@calling/source' condition bundles the
// SDK's TypeScript, so the page never waits for (or runs a stale) client/sdk/dist.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'client');
await mkdir(out, { recursive: true });
await build({
  entryPoints: [path.join(root, 'client', 'web', 'app.ts')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox115', 'safari16'],
  sourcemap: true,
  minify: process.env.NODE_ENV === 'production',
  // mediasoup-client's debug logger reads process.env in some code paths.
  define: { 'process.env.NODE_ENV': JSON.stringify(process.env.NODE_ENV ?? 'development') },
  conditions: ['@calling/source'],
  logLevel: 'warning',
});
for (const f of ['index.html', 'styles.css'])
  await copyFile(path.join(root, 'client', 'web', f), path.join(out, f));
console.log(`web client built into ${path.relative(root, out)}`);
