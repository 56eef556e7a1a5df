/**
 * The SDK as a package, as an embedding messenger gets it: `npm pack` of client/sdk, the tarball
 * installed into a temporary project (from the local npm cache), only built files inside, importing
 * nothing but its declared dependencies, and its declarations type-checked from that project (right
 * code compiles, wrong code does not). The example test (browser.embedExample) runs a call through it.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAndInstallSdk, typeCheck, type InstalledSdk } from './support/sdkPackage.js';

describe('@calling/sdk as a package', () => {
  let sdk: InstalledSdk | undefined;
  let app: string;

  beforeAll(async () => {
    sdk = await packAndInstallSdk();
    app = sdk.app;
  }, 240_000);
  afterAll(async () => {
    await sdk?.remove();
  });

  it('packs a self-contained ESM package: built files only, importing nothing but its dependencies', async () => {
    const installed = path.join(app, 'node_modules', '@calling', 'sdk');
    const pkg = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as {
      exports: Record<string, Record<string, string>>;
      dependencies: Record<string, string>;
    };
    expect(pkg.exports['.']).toMatchObject({ types: './dist/index.d.ts', import: './dist/index.js' });
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['mediasoup-client', 'zod']);
    expect((await readdir(installed)).sort()).toEqual(['README.md', 'dist', 'package.json']);
    expect((await readdir(path.join(installed, 'dist'))).sort()).toEqual([
      'index.d.ts',
      'index.js',
      'index.js.map',
    ]);
    const js = await readFile(path.join(installed, 'dist', 'index.js'), 'utf8');
    const imports = [...js.matchAll(/^import .* from ["']([^"']+)["']/gm)].map((m) => m[1]);
    expect(new Set(imports)).toEqual(new Set(['mediasoup-client']));
    // No server code and no zod code came along (the codec list is the server's; zod is types only).
    expect(js).not.toMatch(/x-google-start-bitrate|ZodObject|mediasoup\/node/);
    // And the dependencies it declares are installed next to it from the tarball's manifest.
    expect((await readdir(path.join(app, 'node_modules'))).sort()).toEqual(
      expect.arrayContaining(['@calling', 'mediasoup-client', 'zod']),
    );
  });

  it('type-checks an embedding app against the installed declarations, and rejects wrong use', async () => {
    await writeFile(
      path.join(app, 'good.ts'),
      `import { CallClient, ErrorCode, type CallEndedReason, type CallTrack } from '@calling/sdk';
export async function start(getToken: () => Promise<string>): Promise<void> {
  const calls = await CallClient.connect({ url: 'wss://calls.example.com/ws', getToken });
  calls.on('incomingCall', (call) => void call.accept());
  const call = await calls.call(['someone'], 'video');
  call.on('track', (t: CallTrack) => console.log(t.kind, t.track.id));
  const reason: CallEndedReason = await call.whenEnded();
  console.log(reason, ErrorCode.Unauthorized);
}
`,
    );
    const good = await typeCheck(app, 'good.ts');
    expect(good.output).toBe('');
    expect(good.ok).toBe(true);
    await writeFile(
      path.join(app, 'bad.ts'),
      `import { CallClient } from '@calling/sdk';
export async function start(): Promise<void> {
  const calls = await CallClient.connect({ url: 'wss://calls.example.com/ws', getToken: async () => 'x' });
  await calls.call('someone', 'screen');
}
`,
    );
    const bad = await typeCheck(app, 'bad.ts');
    expect(bad.ok).toBe(false);
    expect(bad.output).toContain('bad.ts(4,');
  });
});
