/**
 * scripts/worker/derive-deb-src.sh: the worker build's deb-src entry comes from the machine's own
 * apt sources (deb822 and one-line, keeping URIs, suites, components and Signed-By), and the setup
 * refuses with a message saying what to add when apt has no usable source. Runs the real script on
 * sample apt directories and on this machine's /etc/apt.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = path.resolve(import.meta.dirname, '..', 'scripts', 'worker', 'derive-deb-src.sh');
const tmpDirs: string[] = [];

afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function derive(aptDir: string, codename = 'bookworm'): Promise<Result> {
  return new Promise((resolve) => {
    execFile('bash', [script, '--codename', codename, aptDir], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** An apt config dir with the given files (paths relative to it, e.g. "sources.list.d/x.sources"). */
async function aptDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cs-apt-'));
  tmpDirs.push(dir);
  await mkdir(path.join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** The output's stanzas as field maps (continuation lines joined with "\n"). */
function stanzas(text: string): Record<string, string>[] {
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((block) => {
      const fields: Record<string, string> = {};
      let last = '';
      for (const line of block.split('\n')) {
        if (/^\s/.test(line)) fields[last] += `\n${line}`;
        else {
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
          if (!m) throw new Error(`not a field line: ${line}`);
          last = m[1]!;
          fields[last] = m[2]!;
        }
      }
      return fields;
    });
}

describe('derive-deb-src.sh', () => {
  it('turns deb822 deb stanzas into deb-src with the same URIs, suites, components and Signed-By', async () => {
    const dir = await aptDir({
      'sources.list.d/debian.sources': [
        'Types: deb',
        '# a comment inside the stanza',
        'URIs: http://mirror.example.net/debian',
        'Suites: bookworm bookworm-updates',
        'Components: main contrib',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        '',
        'types: deb',
        'uris: http://proxy.example.net:3142/debian-security',
        'suites: bookworm-security',
        'components: main',
        'signed-by:',
        ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
        ' .',
        ' mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPJIIG4hWdjqKr8TZ8EcZ9sc',
        ' -----END PGP PUBLIC KEY BLOCK-----',
        '',
        'Types: deb',
        'Enabled: no',
        'URIs: http://disabled.example.net/debian',
        'Suites: bookworm',
        'Components: main',
        '',
        'Types: deb deb-src',
        'URIs: http://already.example.net/debian',
        'Suites: bookworm-backports',
        'Components: main',
        '',
      ].join('\n'),
      'sources.list.d/vendor.sources': [
        'Types: deb',
        'URIs: https://vendor.example.com/node_24.x',
        'Suites: nodistro',
        'Components: main',
        'Signed-By: /usr/share/keyrings/vendor.gpg',
        '',
      ].join('\n'),
    });
    const r = await derive(dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(stanzas(r.stdout)).toEqual([
      {
        Types: 'deb-src',
        URIs: 'http://mirror.example.net/debian',
        Suites: 'bookworm bookworm-updates',
        Components: 'main contrib',
        'Signed-By': '/usr/share/keyrings/debian-archive-keyring.gpg',
      },
      {
        Types: 'deb-src',
        URIs: 'http://proxy.example.net:3142/debian-security',
        Suites: 'bookworm-security',
        Components: 'main',
        'Signed-By': [
          '',
          ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
          ' .',
          ' mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPJIIG4hWdjqKr8TZ8EcZ9sc',
          ' -----END PGP PUBLIC KEY BLOCK-----',
        ].join('\n'),
      },
    ]);
  });

  it('turns one-line deb entries (with [signed-by=…] options) into deb822 deb-src stanzas', async () => {
    const dir = await aptDir({
      'sources.list': [
        '# the main archive through a proxy',
        'deb http://apt-proxy.example.org:3142/debian bookworm main non-free-firmware # trailing',
        'deb-src http://apt-proxy.example.org:3142/debian bookworm main',
        'deb [arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg] https://mirror.example.org/debian bookworm-updates main',
        'deb [ trusted=yes ] http://local.example.org/debian bookworm-backports main',
        'deb https://packages.example.com/apt cloud-sdk-bookworm main',
        '',
      ].join('\n'),
      'sources.list.d/security.list':
        'deb http://security.example.org/debian-security bookworm-security main\n',
    });
    const r = await derive(dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(stanzas(r.stdout)).toEqual([
      {
        Types: 'deb-src',
        URIs: 'http://apt-proxy.example.org:3142/debian',
        Suites: 'bookworm',
        Components: 'main non-free-firmware',
      },
      {
        Types: 'deb-src',
        URIs: 'https://mirror.example.org/debian',
        Suites: 'bookworm-updates',
        Components: 'main',
        'Signed-By': '/etc/apt/keyrings/mirror.gpg',
      },
      {
        Types: 'deb-src',
        URIs: 'http://local.example.org/debian',
        Suites: 'bookworm-backports',
        Components: 'main',
        Trusted: 'yes',
      },
      {
        Types: 'deb-src',
        URIs: 'http://security.example.org/debian-security',
        Suites: 'bookworm-security',
        Components: 'main',
      },
    ]);
  });

  it.each([
    ['no source files at all', {}],
    [
      'only other releases and third-party suites',
      { 'sources.list': 'deb http://m.example.org/debian trixie main\n' },
    ],
    [
      'only files apt does not read and disabled stanzas',
      {
        'sources.list.d/old.list.disabled': 'deb http://m.example.org/debian bookworm main\n',
        'sources.list.d/off.sources':
          'Types: deb\nEnabled: no\nURIs: http://m.example.org/debian\nSuites: bookworm\n',
      },
    ],
  ])(
    'refuses with what to add when apt has no usable source: %s',
    async (_name, files: Record<string, string>) => {
      const dir = await aptDir(files);
      const r = await derive(dir);
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('apt has no usable `deb` source for bookworm');
      expect(r.stderr).toContain('Types: deb deb-src');
      expect(r.stderr).toContain(path.join(dir, 'sources.list.d', 'debian.sources'));
    },
  );

  it("derives from this machine's /etc/apt: every stanza comes from a URI apt already uses", async () => {
    const osRelease = await readFile('/etc/os-release', 'utf8');
    const codename = /^VERSION_CODENAME=(\S+)$/m.exec(osRelease)?.[1];
    expect(codename).toBeTruthy();
    const r = await derive('/etc/apt', codename);
    expect(r.code).toBe(0);
    const configured = [
      await readFile('/etc/apt/sources.list', 'utf8').catch(() => ''),
      ...(await Promise.all(
        (await readdir('/etc/apt/sources.list.d'))
          .filter((f) => /\.(list|sources)$/.test(f))
          .map((f) => readFile(path.join('/etc/apt/sources.list.d', f), 'utf8')),
      )),
    ].join('\n');
    const derived = stanzas(r.stdout);
    expect(derived.length).toBeGreaterThan(0);
    for (const s of derived) {
      expect(s.Types).toBe('deb-src');
      for (const uri of s.URIs!.split(' ')) expect(configured).toContain(uri);
      for (const suite of s.Suites!.split(' '))
        expect(suite === codename || suite.startsWith(`${codename}-`)).toBe(true);
    }
  });
});
