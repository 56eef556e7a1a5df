/**
 * The supported runtime is Node.js 24: package.json's "engines", @types/node and
 * scripts/lib/node-env.sh (which puts Node 24 first on PATH for setup, start and test) must agree,
 * and when scripts/test.sh runs the suite it must really run on that Node — CI's only command is
 * scripts/test.sh, so this is what proves CI runs on Node 24.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);

interface PackageJson {
  engines: { node: string };
  devDependencies: Record<string, string>;
}

async function requiredNodeMajor(): Promise<number> {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as PackageJson;
  const m = /^>=(\d+)$/.exec(pkg.engines.node);
  if (!m) throw new Error(`engines.node "${pkg.engines.node}" is not ">=MAJOR"`);
  return Number(m[1]);
}

function majorOf(version: string): number {
  return Number(version.replace(/^v/, '').split('.')[0]);
}

/** Runs a bash snippet with scripts/lib/node-env.sh sourced, from the repository root. */
async function withNodeEnv(snippet: string): Promise<string> {
  const { stdout } = await run(
    'bash',
    ['-c', `set -euo pipefail; source scripts/lib/node-env.sh; ${snippet}`],
    {
      cwd: root,
      timeout: 120_000,
    },
  );
  return stdout.trim();
}

describe('Node.js runtime', () => {
  it('package.json engines, @types/node and scripts/lib/node-env.sh name the same major', async () => {
    const required = await requiredNodeMajor();
    expect(required).toBeGreaterThanOrEqual(24);
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as PackageJson;
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^\\^${required}\\.`));
    expect(Number(await withNodeEnv('echo "$SUPPORTED_NODE_MAJOR"'))).toBe(required);
  });

  it('scripts/lib/node-env.sh puts a node satisfying engines first on PATH', async () => {
    const required = await requiredNodeMajor();
    // Whatever node runs this test (system Node 20 or Node 24), the script must end with a
    // supported one on PATH: the machine's own when new enough, else the cached install.
    const out = await withNodeEnv('use_supported_node; node --version; echo "$CALLING_SERVICE_NODE_MAJOR"');
    const [version, exported] = out.split('\n');
    expect(majorOf(version ?? '')).toBeGreaterThanOrEqual(required);
    expect(Number(exported)).toBe(required);
  }, 150_000);

  it('runs on the supported Node when started by scripts/test.sh', async () => {
    const required = await requiredNodeMajor();
    // scripts/test.sh exports CALLING_SERVICE_NODE_MAJOR through node-env.sh. A developer's
    // `npx vitest run` on an older system node is outside that promise — but CI (CI=true) must
    // always come through scripts/test.sh, so a missing marker there fails.
    const marker = process.env.CALLING_SERVICE_NODE_MAJOR;
    if (marker === undefined) {
      expect(process.env.CI, 'CI must run the suite through scripts/test.sh').not.toBe('true');
      return;
    }
    expect(Number(marker)).toBe(required);
    expect(majorOf(process.versions.node)).toBeGreaterThanOrEqual(required);
    // Native packages load their bundled binaries on this runtime.
    const sharp = (await import('sharp')).default;
    expect(typeof sharp.versions.vips).toBe('string');
    const ndc = await import('node-datachannel');
    expect(typeof ndc.PeerConnection).toBe('function');
  });
});
