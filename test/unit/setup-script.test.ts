/**
 * tools/setup's decisions, with stand-ins for dpkg, apt, id, sudo, node and npm on PATH (they
 * record how they were called), so every branch runs without touching this machine's packages.
 * The real run is the README's `tools/setup` on a fresh Debian (docs/install.md says how it was
 * checked); these cover what a fresh machine cannot show at once: everything installed, no sudo,
 * an old Node, no apt, a failing install.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/helpers.js';

const SETUP = join(ROOT, 'tools', 'setup');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The list as tools/setup prints it; `?name` is installed only where the release has it. */
const specs = spawnSync('bash', [SETUP, '--list'], { encoding: 'utf8' }).stdout.trim().split('\n');
const packages = specs.map((p) => p.replace(/^\?/, ''));
const required = specs.filter((p) => !p.startsWith('?'));

interface Machine {
  installed?: string[] | 'all';
  /** Package names apt knows (default: every one asked about). */
  aptKnows?: string[];
  uid?: number;
  sudo?: boolean;
  apt?: boolean;
  node?: string | null;
  aptInstallFails?: boolean;
}

/** A PATH holding only stand-ins and the few real tools the script uses; returns its log reader. */
function machine(m: Machine) {
  const root = mkdtempSync(join(tmpdir(), 'glasspane-setup-'));
  dirs.push(root);
  const bin = join(root, 'bin');
  mkdirSync(bin);
  const log = join(root, 'calls.log');
  const fake = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  for (const tool of ['bash', 'dirname', 'sed', 'mktemp', 'tail', 'rm', 'cat']) {
    const real = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(real, join(bin, tool));
  }
  const installed = m.installed === 'all' ? packages : (m.installed ?? []);
  fake('dpkg', 'echo amd64');
  fake('dpkg-query', `case " ${installed.join(' ')} " in *" \${@: -1} "*) printf 'install ok installed';; *) exit 1;; esac`);
  fake('id', `echo ${m.uid ?? 0}`);
  if (m.sudo) fake('sudo', '"$@"');
  if (m.apt !== false) {
    fake('apt-get', m.aptInstallFails ? '[ "$1" = update ] && exit 0; echo "E: Unable to locate package"; exit 100' : 'exit 0');
    const knows = m.aptKnows ? `case " ${m.aptKnows.join(' ')} " in *" $2 "*) ;; *) echo "$2:"; echo "  Candidate: (none)"; exit 0;; esac` : '';
    fake('apt-cache', `${knows}\necho "$2:"; echo "  Installed: (none)"; echo "  Candidate: 20.19.2+dfsg-1"`);
  }
  if (m.node !== null) {
    fake('node', `case "$*" in *allowScripts*) echo esbuild;; *) echo ${(m.node ?? 'v20.19.2').replace(/^v(\d+).*/, '$1')};; esac`);
    mkdirSync(join(root, 'include', 'node'), { recursive: true });
    writeFileSync(join(root, 'include', 'node', 'node_version.h'), '');
  }
  fake('npm', 'echo "npm_config_nodedir=$npm_config_nodedir" >> ' + log);
  return {
    root,
    run: () => spawnSync(join(bin, 'bash'), [SETUP], { encoding: 'utf8', env: { PATH: bin, HOME: root, TMPDIR: root } }),
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8') : ''),
  };
}

describe('tools/setup', () => {
  it('lists every package docs/install.md names in its Debian column, and no other', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'install.md'), 'utf8');
    const debianColumn = [...doc.matchAll(/^\|[^|]+\|[^|]+\| `([^`]+)`/gm)].map((m) => m[1]);
    expect(debianColumn.sort()).toEqual([...packages].sort());
  });

  it('with everything installed: no apt at all, then npm ci against the running Node\'s headers', () => {
    const m = machine({ installed: 'all' });
    const r = m.run();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('tools/setup: the system packages are installed');
    expect(m.calls()).not.toMatch(/^apt/m);
    // Dependencies' scripts off (npm < 11 ignores allowScripts), then the allowed ones and ours.
    expect(m.calls().split('\n').filter((l) => l.startsWith('npm '))).toEqual(['npm ci --ignore-scripts', 'npm rebuild esbuild', 'npm run install', 'npm run build']);
    expect(m.calls()).toContain(`npm_config_nodedir=${m.root}`);
  });

  it('installs only what is missing, with one apt-get update, and says what first', () => {
    const m = machine({ installed: packages.filter((p) => p !== 'xclip' && p !== 'ovmf') });
    const r = m.run();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/installing 2 packages: ovmf xclip/);
    expect(m.calls().match(/^apt-get update/gm)).toHaveLength(1);
    expect(m.calls()).toMatch(/^apt-get install -y -q --no-install-recommends ovmf xclip$/m);
  });

  it('an optional package (?name) is installed where the release has it, and skipped where not', () => {
    const optional = specs.filter((p) => p.startsWith('?')).map((p) => p.slice(1));
    expect(optional).toEqual(['qemu-system-modules-spice']);
    const trixie = machine({ installed: required });
    expect(trixie.run().stdout).toMatch(/installing 1 packages: qemu-system-modules-spice/);
    const bookworm = machine({ installed: required, aptKnows: required });
    const r = bookworm.run();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('tools/setup: the system packages are installed');
    expect(bookworm.calls()).not.toMatch(/^apt-get/m);
  });

  it('not root: installs through sudo; without sudo it stops and says what to do', () => {
    const withSudo = machine({ uid: 1000, sudo: true });
    expect(withSudo.run().status).toBe(0);
    expect(withSudo.calls()).toMatch(/^sudo apt-get install/m);

    const noSudo = machine({ uid: 1000 });
    const r = noSudo.run();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/needs root, and sudo is not installed\n\s+fix: run it as root \(su -c tools\/setup\)/);
    expect(noSudo.calls()).not.toMatch(/^(apt-get|npm)/m);
  });

  it('a package this release does not have is named', () => {
    const m = machine({ aptKnows: packages.filter((p) => p !== 'busybox-static') });
    const r = m.run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no package named busybox-static in this system\'s package lists');
  });

  it('a failing apt-get install shows the end of its output and where the rest is', () => {
    const m = machine({ aptInstallFails: true });
    const r = m.run();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/E: Unable to locate package\n.*apt-get install failed .*all of it: .*glasspane-setup-apt/s);
    expect(m.calls()).not.toMatch(/^npm/m);
  });

  it('refuses a Node older than 20, and a system without apt, with the fix', () => {
    const old = machine({ installed: 'all', node: 'v18.19.0' });
    const r = old.run();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/glasspane needs 20 or later\n\s+fix: install Node\.js 20 or later/);
    expect(old.calls()).not.toMatch(/^npm/m);

    const noNode = machine({ installed: 'all', node: null });
    const r1 = noNode.run();
    expect(noNode.calls()).toMatch(/^apt-get install -y -q --no-install-recommends nodejs npm libnode-dev$/m);
    expect(r1.stderr).toMatch(/Node\.js is not installed/); // the stand-in apt installed nothing

    const noApt = machine({ apt: false });
    const r2 = noApt.run();
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/not a Debian-family system.*\n\s+fix: install the packages docs\/install\.md names/);
  });
});
