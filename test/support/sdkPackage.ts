/**
 * The SDK as an embedding app gets it: `npm pack` of client/sdk (its prepack runs the package build,
 * scripts/build-sdk.mjs, with its import guard) and the tarball installed into a fresh temporary
 * project, from the local npm cache where it can. Shared by the package test and the example test.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
/** npm without the audit/fund chatter, from the local cache where it can. */
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

export interface InstalledSdk {
  /** The temporary project with @calling/sdk installed from the tarball. */
  app: string;
  tarball: string;
  remove: () => Promise<void>;
}

export async function packAndInstallSdk(): Promise<InstalledSdk> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'calling-sdk-pack-'));
  const remove = () => rm(tmp, { recursive: true, force: true });
  try {
    const app = path.join(tmp, 'app');
    const packed = await run(
      'npm',
      ['pack', '-w', '@calling/sdk', '--pack-destination', tmp, '--json', ...NPM_FLAGS],
      { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string }[];
    const tarball = path.join(tmp, info!.filename);
    await mkdir(app);
    await writeFile(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'embedding-messenger', private: true, type: 'module' }),
    );
    await run('npm', ['install', tarball, ...NPM_FLAGS], { cwd: app, maxBuffer: 16 * 1024 * 1024 });
    return { app, tarball, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** Type-checks `file` in `cwd` as a strict TypeScript app would (the installed declarations included). */
export async function typeCheck(cwd: string, file: string): Promise<{ ok: boolean; output: string }> {
  const bin = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await writeFile(
    path.join(cwd, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        noEmit: true,
        strict: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        lib: ['es2022', 'dom', 'dom.iterable'],
        types: [],
      },
      files: [file],
    }),
  );
  try {
    const { stdout } = await run(process.execPath, [bin, '-p', 'tsconfig.json'], { cwd });
    return { ok: true, output: stdout };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
