/**
 * The image and the multi-service start: no container engine runs on this machine, so this checks
 * Dockerfile and compose.yaml statically against the repository and server/config.ts — stages and
 * base images (Node major from package.json engines), a non-root runtime user, exposed ports that are
 * the configuration's defaults, COPY sources that exist, no compiler in the runtime stage, and
 * compose services with images pinned to a major, environment names the service knows and published
 * ports that match that environment, sentinels watching the primary the nodes are pointed at; and the
 * Kubernetes manifests under deploy/k8s/ (env names, probes on the service's port, drain time, media
 * ports, selectors). YAML is read with a real parser.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
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

/** Resolves "${NAME:-default}" / "${NAME:?message}" as compose would with the required variables set. */
function resolveInterpolations(e: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(e).map(([k, v]) => [
      k,
      v.replace(/\$\{(\w+)(?::[-?]([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) =>
        name === 'JWT_SECRET' ? 'x'.repeat(32) : (fallback ?? ''),
      ),
    ]),
  );
}

describe('compose.yaml', async () => {
  const compose = parseYaml(await readFile(path.join(root, 'compose.yaml'), 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  const services = compose.services;
  /** The calling-service nodes: the services built from this repository. */
  const nodes = Object.entries(services).filter(([, s]) => s.build !== undefined);
  const env = (s: ComposeService): Record<string, string> =>
    Array.isArray(s.environment)
      ? Object.fromEntries(s.environment.map((e) => [e.split('=')[0]!, e.split('=').slice(1).join('=')]))
      : (s.environment ?? {});
  const words = (s: ComposeService): string[] =>
    Array.isArray(s.command) ? s.command : (s.command ?? '').split(/\s+/);

  it('starts two nodes with Redis (primary, replica, three sentinels), PostgreSQL and coturn', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'calling-service',
        'calling-service-2',
        'coturn',
        'postgres',
        'redis',
        'redis-replica',
        'sentinel-1',
        'sentinel-2',
        'sentinel-3',
      ].sort(),
    );
    expect(nodes.map(([name]) => name).sort()).toEqual(['calling-service', 'calling-service-2']);
    for (const [, node] of nodes) {
      const context = typeof node.build === 'string' ? node.build : node.build?.context;
      expect(context).toBe('.');
      expect(existsSync(path.join(root, context!, 'Dockerfile'))).toBe(true);
    }
  });

  it('pins every pulled image to a major version', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build !== undefined) continue;
      expect(s.image, name).toMatch(/^[a-z0-9./-]+:\d+(\.\d+)*(-[a-z0-9.]+)?$/);
    }
  });

  it('gives each node only environment variables that server/config.ts reads, and they validate', () => {
    for (const [name, node] of nodes) {
      const e = env(node);
      for (const key of Object.keys(e)) expect(CONFIG_ENV_NAMES, `${name}: ${key}`).toContain(key);
      expect(() => loadConfig(resolveInterpolations(e)), name).not.toThrow();
    }
    // Two nodes of one deployment: distinct ids, one Redis, one database, one JWT secret.
    const envs = nodes.map(([, n]) => env(n));
    expect(new Set(envs.map((e) => e.NODE_ID)).size).toBe(nodes.length);
    for (const key of ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'DATABASE_URL', 'JWT_SECRET'])
      expect(new Set(envs.map((e) => e[key])).size, key).toBe(1);
  });

  it('points the nodes at sentinels that monitor the primary under the configured name, with a replica', () => {
    const e = env(nodes[0]![1]);
    const config = loadConfig(resolveInterpolations(e));
    if (config.redis?.kind !== 'sentinel') throw new Error('the nodes should reach Redis through Sentinel');
    expect(config.redis.sentinels.length).toBe(3);
    for (const { host, port } of config.redis.sentinels) {
      const sentinel = services[host];
      expect(sentinel, `sentinel service ${host}`).toBeDefined();
      const script = words(sentinel!).join(' ');
      expect(script).toContain(`port ${port}`);
      // "sentinel monitor <name> <host> <port> <quorum>": the name the nodes ask for, the primary service.
      const monitor = /sentinel monitor (\S+) (\S+) (\d+) (\d+)/.exec(script);
      expect(monitor?.slice(1, 4)).toEqual([config.redis.name, 'redis', '6379']);
      expect(Number(monitor![4])).toBe(2);
      expect(script).toContain('redis-sentinel');
    }
    const replica = words(services['redis-replica']!);
    expect(replica.slice(replica.indexOf('--replicaof') + 1, replica.indexOf('--replicaof') + 3)).toEqual([
      'redis',
      '6379',
    ]);
    expect(words(services.redis!)).toContain('--appendonly');
  });

  it("publishes each node's HTTP port and exactly the RTC ports its workers listen on, none shared", () => {
    const taken = new Set<string>();
    for (const [name, node] of nodes) {
      const e = env(node);
      // "HOST:CONTAINER/PROTO": the protocol applies to both sides.
      const published = (node.ports ?? []).map((p) => {
        const [mapping, proto = 'tcp'] = p.split('/') as [string, string | undefined];
        const [host, container] = mapping.split(/:(?=[^:]*$)/) as [string, string];
        return { host: portSpec(`${host}/${proto}`), container: portSpec(`${container}/${proto}`) };
      });
      for (const p of published) {
        expect(p.host, name).toEqual(p.container);
        for (let port = p.host.from; port <= p.host.to; port++) {
          const key = `${port}/${p.host.proto}`;
          expect(taken.has(key), `${name} publishes ${key} twice on the host`).toBe(false);
          taken.add(key);
        }
      }
      const httpPort = Number(e.PORT);
      expect(published.map((p) => p.container)).toContainEqual({
        from: httpPort,
        to: httpPort,
        proto: 'tcp',
      });
      const base = Number(e.RTC_PORT_BASE);
      const workers = Number(e.MEDIASOUP_NUM_WORKERS);
      expect(workers).toBeGreaterThanOrEqual(1);
      for (const proto of ['udp', 'tcp']) {
        expect(published.map((p) => p.container)).toContainEqual({
          from: base,
          to: base + workers - 1,
          proto,
        });
      }
    }
  });

  it('runs coturn with a shared auth secret taken from the environment', () => {
    const w = words(services.coturn!);
    expect(w).toContain('--use-auth-secret');
    expect(w.find((x) => x.startsWith('--static-auth-secret='))).toMatch(/^--static-auth-secret=\$\{\w+:\?/);
    expect(w).toContain('--listening-port=3478');
    const published = (services.coturn!.ports ?? []).join(' ');
    expect(published).toContain('3478:3478/udp');
  });
});

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface Container {
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface PodSpec {
  hostNetwork?: boolean;
  terminationGracePeriodSeconds?: number;
  containers: Container[];
}

describe('Kubernetes manifests (deploy/k8s)', async () => {
  const dir = path.join(root, 'deploy', 'k8s');
  const kustomization = parseYaml(await readFile(path.join(dir, 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
  };
  const objects: K8sObject[] = [];
  for (const file of kustomization.resources) {
    for (const doc of parseAllDocuments(await readFile(path.join(dir, file), 'utf8'))) {
      objects.push(doc.toJS() as K8sObject);
    }
  }
  const one = (kind: string): K8sObject => {
    const found = objects.filter((o) => o.kind === kind);
    expect(found.length, kind).toBe(1);
    return found[0]!;
  };
  const deployment = one('Deployment');
  const pod = (deployment.spec!.template as { metadata: { labels: Record<string, string> }; spec: PodSpec })
    .spec;
  const podLabels = (deployment.spec!.template as { metadata: { labels: Record<string, string> } }).metadata
    .labels;
  const container = pod.containers[0]!;
  const configMap = one('ConfigMap');

  it('lists every manifest in the directory in its kustomization', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service'].sort(),
    );
  });

  it('configures the nodes only with variables server/config.ts reads, and the result validates', () => {
    expect(container.envFrom?.map((e) => e.configMapRef?.name ?? e.secretRef?.name)).toContain(
      configMap.metadata.name,
    );
    const names = [...Object.keys(configMap.data!), ...(container.env ?? []).map((e) => e.name)];
    for (const name of names) expect(CONFIG_ENV_NAMES, name).toContain(name);
    // The Secret supplies these; the downward API the rest (placeholders stand in for both).
    const config = loadConfig({
      ...configMap.data,
      NODE_ID: 'calling-service-abc12',
      RTC_ANNOUNCED_ADDRESS: '203.0.113.7',
      JWT_SECRET: 'x'.repeat(32),
      DATABASE_URL: 'postgres://calling:secret@postgres:5432/calling',
    });
    expect(config.env).toBe('production');
    expect(config.redis?.kind).toBe('sentinel');
  });

  it('puts media on the node network with every worker port declared, and probes /healthz on the HTTP port', () => {
    expect(pod.hostNetwork).toBe(true);
    const data = configMap.data!;
    const http = container.ports!.find((p) => p.name === 'http');
    expect(http?.containerPort).toBe(Number(data.PORT));
    expect(container.ports!.find((p) => p.name === 'metrics')?.containerPort).toBe(Number(data.METRICS_PORT));
    const base = Number(data.RTC_PORT_BASE);
    const workers = Number(data.MEDIASOUP_NUM_WORKERS);
    for (const protocol of ['UDP', 'TCP']) {
      const declared = container
        .ports!.filter((p) => p.protocol === protocol && p.name?.startsWith('rtc-'))
        .map((p) => p.containerPort)
        .sort((a, b) => a - b);
      expect(declared, protocol).toEqual(Array.from({ length: workers }, (_, i) => base + i));
    }
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
  });

  it('drains before it is killed: a preStop pause and a grace period longer than pause plus drain', () => {
    const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
    expect(preStop[0]).toBe('sleep');
    const pauseSeconds = Number(preStop[1]);
    expect(pauseSeconds).toBeGreaterThan(0);
    // DRAIN_TIMEOUT_MS when the ConfigMap sets it; otherwise assume 60 s (set it there to be exact).
    const drainSeconds = Number(configMap.data!.DRAIN_TIMEOUT_MS ?? 60_000) / 1000;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(pauseSeconds + drainSeconds);
  });

  it('selects the pods from the Service and the PodDisruptionBudget, one node disrupted at a time', () => {
    const service = one('Service');
    const pdb = one('PodDisruptionBudget');
    for (const selector of [
      service.spec!.selector as Record<string, string>,
      (pdb.spec!.selector as { matchLabels: Record<string, string> }).matchLabels,
      (deployment.spec!.selector as { matchLabels: Record<string, string> }).matchLabels,
    ]) {
      for (const [k, v] of Object.entries(selector)) expect(podLabels[k], k).toBe(v);
    }
    expect((service.spec!.ports as { targetPort: string }[])[0]!.targetPort).toBe('http');
    expect(pdb.spec!.maxUnavailable).toBe(1);
  });
});
