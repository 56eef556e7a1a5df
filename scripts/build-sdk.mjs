// Builds the @calling/sdk package (client/sdk) into client/sdk/dist: one ESM file (index.js) and one
// declaration file (index.d.ts). Both are bundles because the SDK shares protocol/ with the server:
// plain tsc output would have to ship protocol/ (and what it imports: zod, the server's codec list)
// next to the SDK. Here the few protocol constants the SDK uses at run time are inlined, type-only
// imports vanish from the JS, and the protocol types are inlined into index.d.ts. The JS may import
// only mediasoup-client; the declarations also zod, whose types the wire types are inferred from (a
// dependency for types only: no zod code reaches a browser). Anything else fails the build.
import { build } from 'esbuild';
import { generateDtsBundle } from 'dts-bundle-generator';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = path.join(root, 'client', 'sdk');
const out = path.join(pkgDir, 'dist');
const pkg = JSON.parse(await readFile(path.join(pkgDir, 'package.json'), 'utf8'));
const allowed = new Set(Object.keys(pkg.dependencies ?? {}));
/** What the JS itself may import: the run-time dependency (zod is there for the declarations). */
const runtime = new Set(['mediasoup-client']);

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

await build({
  entryPoints: [path.join(pkgDir, 'index.ts')],
  outfile: path.join(out, 'index.js'),
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: ['es2022'],
  sourcemap: true,
  // Dependencies stay imports: the embedding app's bundler resolves (and dedupes) them.
  external: [...runtime],
  logLevel: 'warning',
});

const [dts] = generateDtsBundle(
  [{ filePath: path.join(pkgDir, 'index.ts'), output: { noBanner: true, exportReferencedTypes: false } }],
  { preferredConfigPath: path.join(pkgDir, 'tsconfig.json') },
);
await writeFile(path.join(out, 'index.d.ts'), dts);

// The guard: what the built files import must be the declared dependencies, nothing else.
for (const [file, may] of [
  ['index.js', runtime],
  ['index.d.ts', allowed],
]) {
  const text = await readFile(path.join(out, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/gm)].map(
    (m) => m[1],
  );
  const dynamic = [...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
  const stray = [...specifiers, ...dynamic].filter((s) => !may.has(s.split('/')[0]));
  if (stray.length > 0) {
    console.error(
      `client/sdk/dist/${file} imports ${[...new Set(stray)].join(', ')}: only ${[...may].join(', ')} may be imported`,
    );
    process.exit(1);
  }
}
console.log(`@calling/sdk built into ${path.relative(root, out)}`);
