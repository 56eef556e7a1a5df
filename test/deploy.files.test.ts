/**
 * The image and the multi-service start: no container engine runs on this machine, so this checks
 * Dockerfile and compose.yaml statically against the repository and server/config.ts — stages and
 * base images (Node major from package.json engines), a non-root runtime user, exposed ports that are
 * the configuration's defaults, COPY sources that exist, no compiler in the runtime stage, and
 * compose services with images pinned to a major, environment names the service knows and published
 * ports that match that environment. compose.yaml is read with a real YAML parser.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_ENV_NAMES, loadConfig, MEDIASOUP_VERSION } from '../server/config.js';

const root = path.resolve(import.meta.dirname, '..');

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Dockerfile → stages: comments dropped, "\" continuations joined, split at each FROM. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  if (pending !== '') throw new Error('Dockerfile ends inside a continued line');
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`not an instruction: ${line}`);
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`FROM not understood: ${args}`);
      stages.push({ image: from[1]!, name: from[2], instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${keyword} before the first FROM`);
      stage.instructions.push({ keyword, args });
    }
  }
  return stages;
}

function args(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

/** COPY's options and sources (everything but the last word, which is the destination). */
function copySources(copyArgs: string): { from: string | undefined; sources: string[] } {
  const words = copyArgs.startsWith('[')
    ? (JSON.parse(copyArgs) as string[])
    : copyArgs.split(/\s+/).filter((w) => w !== '');
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const plain = words.filter((w) => !w.startsWith('--'));
  return { from, sources: plain.slice(0, -1) };
}

/** The packages that `apt-get install` commands in a RUN line install (options left out). */
function aptInstalled(run: string): string[] {
  const out: string[] = [];
  for (const command of run.split(/&&|;|\|\|/)) {
    const words = command.trim().split(/\s+/);
    const i = words.findIndex((w, k) => (w === 'apt-get' || w === 'apt') && words[k + 1] === 'install');
    if (i >= 0) out.push(...words.slice(i + 2).filter((w) => !w.startsWith('-')));
  }
  return out;
}

/** "3000", "3000/tcp", "40000-40015/udp" → { from, to, proto }. */
function portSpec(spec: string): { from: number; to: number; proto: string } {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(spec);
  if (!m) throw new Error(`port spec not understood: ${spec}`);
  return { from: Number(m[1]), to: Number(m[2] ?? m[1]), proto: m[3] ?? 'tcp' };
}

async function requiredNodeMajor(): Promise<number> {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
    engines: { node: string };
  };
  const m = /^>=(\d+)$/.exec(pkg.engines.node);
  if (!m) throw new Error(`engines.node "${pkg.engines.node}" is not ">=MAJOR"`);
  return Number(m[1]);
}

const defaults = loadConfig({});

describe('Dockerfile', async () => {
  const stages = parseDockerfile(await readFile(path.join(root, 'Dockerfile'), 'utf8'));
  const runtime = stages.at(-1)!;

  it('has a build and a runtime stage, both on the slim Debian 12 image of the required Node major', async () => {
    const major = await requiredNodeMajor();
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.image).toBe(`node:${major}-bookworm-slim`);
    expect(stages[0]!.name).toBe('build');
    // The build goes through the same scripts as the README's Quick start.
    const buildRuns = args(stages[0]!, 'RUN').join('\n');
    expect(buildRuns).toContain('scripts/worker/build-worker.sh');
    expect(buildRuns).toContain('scripts/setup.sh');
  });

  it('runs as a non-root user', () => {
    const users = args(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.split(':')[0]!;
    expect(['root', '0', '']).not.toContain(user);
  });

  it("exposes the HTTP port and the RTC port range at server/config.ts's defaults", () => {
    const exposed = args(runtime, 'EXPOSE')
      .flatMap((a) => a.split(/\s+/))
      .map(portSpec);
    expect(exposed).toContainEqual({ from: defaults.port, to: defaults.port, proto: 'tcp' });
    for (const proto of ['udp', 'tcp']) {
      const range = exposed.find((p) => p.proto === proto && p.from === defaults.mediasoup.portBase);
      expect(range, `${proto} range from RTC_PORT_BASE`).toBeDefined();
      expect(range!.to).toBeGreaterThan(range!.from);
    }
    // The ENV the image sets agrees with the defaults it exposes.
    const env = args(runtime, 'ENV').join(' ');
    expect(env).toContain(`PORT=${defaults.port}`);
    expect(env).toContain(`RTC_PORT_BASE=${defaults.mediasoup.portBase}`);
  });

  it('copies only files that exist in the repository, and the worker of the pinned mediasoup version', () => {
    let fromBuild = 0;
    for (const stage of stages) {
      for (const a of args(stage, 'COPY')) {
        const { from, sources } = copySources(a);
        expect(sources.length).toBeGreaterThan(0);
        if (from === undefined) {
          for (const src of sources)
            expect(existsSync(path.join(root, src)), `COPY source ${src}`).toBe(true);
        } else {
          expect(stages.map((s) => s.name)).toContain(from);
          fromBuild++;
        }
      }
    }
    expect(fromBuild).toBeGreaterThan(0);
    const worker = args(runtime, 'COPY').find((a) => a.includes('mediasoup-worker'));
    expect(worker).toContain(`/${MEDIASOUP_VERSION}/mediasoup-worker`);
    // The build script caches the worker under the directory the build stage sets.
    const cacheEnv = args(stages[0]!, 'ENV').join(' ');
    const cache = /MEDIASOUP_WORKER_CACHE=(\S+)/.exec(cacheEnv)?.[1];
    expect(worker).toContain(`${cache}/${MEDIASOUP_VERSION}/mediasoup-worker`);
  });

  it('installs no compiler or -dev package in the runtime stage', () => {
    const installed = args(runtime, 'RUN').flatMap(aptInstalled);
    expect(installed).toEqual(expect.arrayContaining(['libuv1', 'libssl3']));
    const tools =
      /^(gcc|g\+\+|cpp|clang|make|cmake|ninja-build|meson|build-essential|ccache|dpkg-dev)(-\d+)?$/;
    for (const p of installed) {
      expect(p, `runtime package ${p}`).not.toMatch(tools);
      expect(p, `runtime package ${p}`).not.toMatch(/-dev$/);
    }
  });
});

interface ComposeService {
  image?: string;
  build?: string | { context?: string };
  environment?: Record<string, string> | string[];
  ports?: string[];
  command?: string[] | string;
}

describe('compose.yaml', async () => {
  const compose = parseYaml(await readFile(path.join(root, 'compose.yaml'), 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  const services = compose.services;
  const service = services['calling-service']!;
  const env = (s: ComposeService): Record<string, string> =>
    Array.isArray(s.environment)
      ? Object.fromEntries(s.environment.map((e) => [e.split('=')[0]!, e.split('=').slice(1).join('=')]))
      : (s.environment ?? {});

  it('starts the service with Redis, PostgreSQL and coturn', () => {
    expect(Object.keys(services).sort()).toEqual(['calling-service', 'coturn', 'postgres', 'redis']);
    const context = typeof service.build === 'string' ? service.build : service.build?.context;
    expect(context).toBe('.');
    expect(existsSync(path.join(root, context!, 'Dockerfile'))).toBe(true);
  });

  it('pins every pulled image to a major version', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'calling-service') continue;
      expect(s.image, name).toMatch(/^[a-z0-9./-]+:\d+(\.\d+)*(-[a-z0-9.]+)?$/);
    }
  });

  it('gives the service only environment variables that server/config.ts reads, and they validate', () => {
    const e = env(service);
    for (const name of Object.keys(e)) expect(CONFIG_ENV_NAMES, name).toContain(name);
    expect(e.REDIS_URL).toMatch(/^redis:\/\/redis:\d+$/);
    // Interpolations resolved as compose would with the required variables set.
    const resolved = Object.fromEntries(
      Object.entries(e).map(([k, v]) => [
        k,
        v.replace(/\$\{(\w+)(?::[-?]([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) =>
          name === 'JWT_SECRET' ? 'x'.repeat(32) : (fallback ?? ''),
        ),
      ]),
    );
    expect(() => loadConfig(resolved)).not.toThrow();
  });

  it('publishes the HTTP port and exactly the RTC ports its workers listen on', () => {
    const e = env(service);
    // "HOST:CONTAINER/PROTO": the protocol applies to both sides.
    const published = (service.ports ?? []).map((p) => {
      const [mapping, proto = 'tcp'] = p.split('/') as [string, string | undefined];
      const [host, container] = mapping.split(/:(?=[^:]*$)/) as [string, string];
      return { host: portSpec(`${host}/${proto}`), container: portSpec(`${container}/${proto}`) };
    });
    for (const p of published) expect(p.host).toEqual(p.container);
    const httpPort = Number(e.PORT);
    expect(published.map((p) => p.container)).toContainEqual({ from: httpPort, to: httpPort, proto: 'tcp' });
    const base = Number(e.RTC_PORT_BASE);
    const workers = Number(e.MEDIASOUP_NUM_WORKERS);
    expect(workers).toBeGreaterThanOrEqual(1);
    for (const proto of ['udp', 'tcp']) {
      expect(published.map((p) => p.container)).toContainEqual({ from: base, to: base + workers - 1, proto });
    }
  });

  it('runs coturn with a shared auth secret taken from the environment', () => {
    const cmd = services.coturn!.command;
    const words = Array.isArray(cmd) ? cmd : (cmd ?? '').split(/\s+/);
    expect(words).toContain('--use-auth-secret');
    expect(words.find((w) => w.startsWith('--static-auth-secret='))).toMatch(
      /^--static-auth-secret=\$\{\w+:\?/,
    );
    expect(words).toContain('--listening-port=3478');
    const published = (services.coturn!.ports ?? []).join(' ');
    expect(published).toContain('3478:3478/udp');
  });
});
