/**
 * The operator image. These machines have no container daemon and cannot
 * pull a base image, so it is built by hack/build-image.sh (Debian parts by
 * mmdebstrap, Node from npm, the Dockerfile's build stage on the host, crane
 * onto the test registry) and checked against the Dockerfile it stands in
 * for: the same final-stage config and /app, nothing a shell or a package
 * manager would need, reproducible, with an SBOM that matches its
 * node_modules, and started by a real containerd.
 */
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { allCrds } from '../../src/operator/crds/crds.js';
import { parseSbomText } from '../../src/sbom/parse.js';
import { startContainerd, type PrivateContainerd } from '../support/containerd.js';
import { exec } from '../support/exec.js';
import { buildOperatorImage, type OperatorImage } from '../support/operator-image.js';
import { testEnv } from '../support/testenv.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

/** Dockerfile → stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const stages: { from: string; instructions: Instruction[] }[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line) || (pending === '' && line.trim() === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const logical = (pending + line).trim();
    pending = '';
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(logical);
    if (m?.[1] === undefined || m[2] === undefined) throw new Error(`unparsed Dockerfile line: ${logical}`);
    const keyword = m[1].toUpperCase();
    if (keyword === 'FROM') stages.push({ from: m[2], instructions: [] });
    else if (stages.length === 0) throw new Error(`${keyword} before FROM`);
    else stages[stages.length - 1]?.instructions.push({ keyword, args: m[2] });
  }
  return stages;
}

interface FinalStage {
  readonly workdir: string;
  readonly env: ReadonlyMap<string, string>;
  readonly user: string;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** Names under the working directory that COPY instructions create. */
  readonly appEntries: readonly string[];
}

/** What the image config and /app must be, read from the final stage; anything the script does not reproduce throws. */
function finalStage(stage: Stage): FinalStage {
  let workdir = '/';
  const env = new Map<string, string>();
  let user = '';
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  const appEntries: string[] = [];
  const execForm = (keyword: string, args: string): string[] => {
    // The shell form runs `/bin/sh -c`, and the image has no shell.
    if (!args.startsWith('[')) throw new Error(`${keyword} must use the exec form (JSON array): ${args}`);
    return JSON.parse(args) as string[];
  };
  for (const { keyword, args } of stage.instructions) {
    switch (keyword) {
      case 'WORKDIR':
        workdir = posix.resolve(workdir, args);
        break;
      case 'ENV':
        for (const pair of args.split(/\s+/)) {
          const eq = pair.indexOf('=');
          if (eq <= 0 || /["']/.test(pair)) throw new Error(`ENV form not understood by this test: ${args}`);
          env.set(pair.slice(0, eq), pair.slice(eq + 1));
        }
        break;
      case 'USER':
        user = args;
        break;
      case 'ENTRYPOINT':
        entrypoint = execForm(keyword, args);
        cmd = []; // as Docker does
        break;
      case 'CMD':
        cmd = execForm(keyword, args);
        break;
      case 'COPY': {
        const words = args.split(/\s+/);
        const flags = words.filter((w) => w.startsWith('--'));
        // --chown, --chmod, --link would change what the script's root-owned layer holds.
        if (flags.some((f) => !f.startsWith('--from='))) throw new Error(`COPY flag not reproduced: ${args}`);
        const dest = posix.resolve(workdir, words[words.length - 1] ?? '');
        if (posix.dirname(dest) !== workdir) throw new Error(`COPY outside ${workdir}: ${args}`);
        appEntries.push(posix.basename(dest));
        break;
      }
      default:
        throw new Error(
          `hack/build-image.sh does not reproduce ${keyword} (${args}); update it with the Dockerfile`,
        );
    }
  }
  return { workdir, env, user, entrypoint, cmd, appEntries };
}

interface FileEntry {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** Every path of an extracted root filesystem (relative, no leading slash) with its type, mode and owner. */
function listFiles(dir: string, prefix = '', into = new Map<string, FileEntry>()): Map<string, FileEntry> {
  for (const name of readdirSync(join(dir, prefix))) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    const st = lstatSync(join(dir, rel));
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
    into.set(rel, { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    if (type === 'dir') listFiles(dir, rel, into);
  }
  return into;
}

/** `path → name@version` of every package directory under a node_modules tree, nested ones included. */
async function installedPackages(appDir: string, nodeModules = 'node_modules'): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const names: string[] = [];
  for (const entry of await readdir(join(appDir, nodeModules))) {
    if (entry.startsWith('.')) continue; // .bin, .package-lock.json
    if (entry.startsWith('@')) {
      for (const scoped of await readdir(join(appDir, nodeModules, entry))) names.push(`${entry}/${scoped}`);
    } else names.push(entry);
  }
  for (const name of names) {
    const path = `${nodeModules}/${name}`;
    const pkg = JSON.parse(await readFile(join(appDir, path, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
    };
    found.set(path, `${pkg.name}@${pkg.version}`);
    const nested = `${path}/node_modules`;
    if (lstatSync(join(appDir, nested), { throwIfNoEntry: false })?.isDirectory() === true) {
      for (const [p, v] of await installedPackages(appDir, nested)) found.set(p, v);
    }
  }
  return found;
}

interface CdxComponent {
  readonly name: string;
  readonly group?: string;
  readonly version: string;
  readonly properties?: readonly { name: string; value: string }[];
  readonly components?: readonly CdxComponent[];
}

/** `path → name@version` of the SBOM's components (nested ones included), by cyclonedx-npm's path property. */
function sbomPackages(
  components: readonly CdxComponent[],
  into = new Map<string, string>(),
): Map<string, string> {
  for (const c of components) {
    const path = c.properties?.find((p) => p.name === 'cdx:npm:package:path')?.value;
    if (path === undefined) throw new Error(`SBOM component ${c.name} has no cdx:npm:package:path`);
    into.set(path, `${c.group === undefined ? '' : `${c.group}/`}${c.name}@${c.version}`);
    sbomPackages(c.components ?? [], into);
  }
  return into;
}

function say(line: string): void {
  process.stderr.write(`[image.test] ${line}\n`);
}

describe('operator image (hack/build-image.sh)', function () {
  let dockerfile: Stage[] = [];
  let final: FinalStage;
  const versions = readFileSync(join(root, 'hack', 'versions.env'), 'utf8');
  const pinned = (name: string): string => new RegExp(`^${name}=(\\S+)$`, 'm').exec(versions)?.[1] ?? '';
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; dev?: boolean; devOptional?: boolean; optional?: boolean }>;
  };
  let work = '';
  let first: OperatorImage;
  let second: OperatorImage;
  let rootfs = '';
  let files = new Map<string, FileEntry>();

  before(async function () {
    // Cold (empty cache: Node and npm packages downloaded, mmdebstrap) about a
    // minute here, warm about 20 s; generous for a busy 2-core machine.
    this.timeout(1_200_000);
    // Read first: a final-stage instruction the script does not reproduce fails here, before any build.
    dockerfile = parseDockerfile(await readFile(join(root, 'Dockerfile'), 'utf8'));
    final = finalStage(dockerfile[dockerfile.length - 1] ?? { from: '', instructions: [] });
    work = await mkdtemp(join(tmpdir(), 'sigwatch-image-'));
    const registry = testEnv().registry;
    const signal = AbortSignal.timeout(1_100_000);
    first = await buildOperatorImage({
      registry,
      repo: 'sigwatch',
      tag: 'a',
      workdir: join(work, 'a'),
      signal,
    });
    say(`first build ${String(first.buildMs)} ms: ${first.ref}\n  ${first.steps.join('\n  ')}`);
    // Same checkout, another work dir and tag: only the caches are shared.
    second = await buildOperatorImage({
      registry,
      repo: 'sigwatch',
      tag: 'b',
      workdir: join(work, 'b'),
      signal,
    });
    say(`second build ${String(second.buildMs)} ms: ${second.ref}`);
    rootfs = join(work, 'rootfs');
    await mkdir(rootfs);
    // The flattened root filesystem, extracted with its owners and modes (the test runs as root).
    await exec('crane', ['export', first.ref, join(work, 'rootfs.tar')], { timeoutMs: 300_000 });
    await exec('tar', ['-C', rootfs, '--numeric-owner', '-xpf', join(work, 'rootfs.tar')], {
      timeoutMs: 300_000,
    });
    files = listFiles(rootfs);
  });

  after(async () => {
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it('is built from the parts the Dockerfile names: its steps, its context files, Node 24 on bookworm', () => {
    expect(dockerfile).to.have.length(2);
    const [build, runtime] = dockerfile;
    // FROM node:<major>-<suite>-slim in both stages: the script's Node and Debian suite must match.
    for (const stage of [build, runtime]) {
      const m = /^node:(\d+)-([a-z]+)-slim\b/.exec(stage?.from ?? '');
      expect(m?.[1], stage?.from).to.equal(pinned('IMAGE_NODE_VERSION').split('.')[0]);
      expect(m?.[2], stage?.from).to.equal(pinned('IMAGE_DEBIAN_SUITE'));
    }
    // The build steps hack/build-image.sh repeats on the host; change both together.
    expect(build?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)).to.deep.equal([
      'npm ci --no-fund --no-audit',
      'npm run build && npm prune --omit=dev',
    ]);
    // The context files the Dockerfile copies are exactly the ones the script builds from.
    const contextSources = dockerfile
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    const script = readFileSync(join(root, 'hack', 'build-image.sh'), 'utf8');
    const scriptSources = /^SOURCES=\(([^)]*)\)$/m.exec(script)?.[1]?.split(/\s+/);
    expect(scriptSources).to.have.members(contextSources);
    for (const s of contextSources)
      expect(lstatSync(join(root, s), { throwIfNoEntry: false }), s).to.not.equal(undefined);
  });

  it("has the config of the Dockerfile's final stage", async () => {
    const config = JSON.parse((await exec('crane', ['config', first.ref])).stdout) as {
      os: string;
      architecture: string;
      config: Record<string, unknown> & { Env?: string[] };
    };
    expect(config.os).to.equal('linux');
    expect(config.architecture).to.equal('amd64');
    expect(final.user).to.equal('65532:65532');
    expect(final.env.get('NODE_ENV')).to.equal('production');
    expect(config.config['User']).to.equal(final.user);
    expect(config.config['WorkingDir']).to.equal(final.workdir);
    expect(config.config['Entrypoint']).to.deep.equal(final.entrypoint);
    expect(config.config['Cmd']).to.deep.equal(final.cmd);
    const env = new Map(
      (config.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    for (const [k, v] of final.env) expect(env.get(k), k).to.equal(v);
    // PATH is what the final stage inherits from the node image; nothing else is set.
    expect([...env.keys()]).to.have.members([...final.env.keys(), 'PATH']);
    expect(env.get('PATH')?.split(':')).to.include('/usr/local/bin');
    expect(Object.keys(config.config)).to.have.members(['User', 'WorkingDir', 'Entrypoint', 'Cmd', 'Env']);
  });

  it('has no shell and no package manager', () => {
    // Not vacuous: the listing is a real root filesystem with Node and the dynamic loader.
    expect(files.get('usr/local/bin/node')?.type).to.equal('file');
    expect(files.get('lib64/ld-linux-x86-64.so.2')?.type).to.equal('symlink');
    const forbidden = new Set(['sh', 'bash', 'dash', 'ash', 'busybox', 'apt', 'apt-get', 'dpkg', 'dpkg-deb']);
    for (const name of ['npm', 'npx', 'corepack', 'yarn', 'pnpm', 'rpm', 'apk']) forbidden.add(name);
    // Programs by name (a directory such as var/lib/dpkg, which holds status.d for scanners, is no program).
    const found = [...files]
      .filter(([p, f]) => f.type !== 'dir' && forbidden.has(posix.basename(p)))
      .map(([p]) => p);
    expect(found).to.deep.equal([]);
    const managerState = [...files.keys()].filter((p) =>
      /^(etc\/apt|etc\/dpkg|var\/lib\/apt|var\/lib\/dpkg\/status$|usr\/local\/lib\/node_modules)|\/node_modules\/npm$/.test(
        p,
      ),
    );
    expect(managerState).to.deep.equal([]);
  });

  it('runs as nonroot 65532: passwd entry, /tmp 1777, nothing set-id, /app owned by root and not writable', () => {
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).to.match(/^nonroot:x:65532:65532:/m);
    expect(readFileSync(join(rootfs, 'etc/group'), 'utf8')).to.match(/^nonroot:x:65532:/m);
    expect(files.get('tmp')).to.deep.include({ type: 'dir', mode: 0o1777 });
    expect([...files].filter(([, f]) => (f.mode & 0o6000) !== 0).map(([p]) => p)).to.deep.equal([]);
    const app = [...files].filter(([p]) => p === 'app' || p.startsWith('app/'));
    expect(app.length).to.be.greaterThan(1000);
    expect(
      // A symlink's own mode is always 0777 and means nothing; its target is checked as itself.
      app
        .filter(([, f]) => f.uid !== 0 || f.gid !== 0 || (f.type !== 'symlink' && (f.mode & 0o022) !== 0))
        .map(([p]) => p),
    ).to.deep.equal([]);
  });

  it('holds in /app what the final stage copies: dist, crds, package.json and production dependencies only', async () => {
    const app = join(rootfs, final.workdir);
    expect((await readdir(app)).sort()).to.deep.equal([...final.appEntries].sort());
    const entryFile = final.entrypoint[1] ?? '';
    expect(entryFile).to.equal('/app/dist/main.js');
    expect(files.get(entryFile.slice(1))?.type).to.equal('file');
    expect(await readFile(join(app, 'package.json'), 'utf8')).to.equal(
      await readFile(join(root, 'package.json'), 'utf8'),
    );
    const crds = (await readdir(join(root, 'crds'))).sort();
    expect((await readdir(join(app, 'crds'))).sort()).to.deep.equal(crds);
    for (const f of crds) {
      expect(await readFile(join(app, 'crds', f), 'utf8'), f).to.equal(
        await readFile(join(root, 'crds', f), 'utf8'),
      );
    }
    const installed = await installedPackages(app);
    for (const [name, version] of Object.entries(pkg.dependencies)) {
      expect(installed.get(`node_modules/${name}`), name).to.equal(`${name}@${version}`);
    }
    // Production only, by the lockfile: every package it does not mark dev or optional is there, and
    // nothing it marks dev-only (`dev`: mocha, typescript, …). A devDependency that a production
    // package also needs (@types/node) is not dev-only and stays, as `npm prune --omit=dev` keeps it.
    const entries = Object.entries(lock.packages).filter(([p]) => p.startsWith('node_modules/'));
    const required = entries.filter(
      ([, e]) => e.dev !== true && e.devOptional !== true && e.optional !== true,
    );
    const allowed = new Set(entries.filter(([, e]) => e.dev !== true).map(([p]) => p));
    expect(
      [...installed.keys()].filter((p) => !allowed.has(p)),
      'dev-only packages in the image',
    ).to.deep.equal([]);
    expect(
      required.map(([p]) => p).filter((p) => !installed.has(p)),
      'missing',
    ).to.deep.equal([]);
    for (const [p, v] of installed)
      expect(v.slice(v.lastIndexOf('@') + 1), p).to.equal(lock.packages[p]?.version);
    // Not vacuous: the lockfile does mark the test tools dev-only.
    expect(lock.packages['node_modules/mocha']?.dev).to.equal(true);
    expect(lock.packages['node_modules/typescript']?.dev).to.equal(true);
  });

  it('is reproducible: a second build of the same checkout has the same digest and SBOM', async () => {
    expect(second.digest).to.equal(first.digest);
    expect(await readFile(second.sbomPath, 'utf8')).to.equal(await readFile(first.sbomPath, 'utf8'));
  });

  it('has an SBOM listing exactly the packages in /app/node_modules', async () => {
    const text = await readFile(first.sbomPath, 'utf8');
    const sbom = JSON.parse(text) as {
      bomFormat: string;
      metadata: { component: { name: string; version: string } };
      components: CdxComponent[];
    };
    expect(sbom.bomFormat).to.equal('CycloneDX');
    expect(sbom.metadata.component).to.deep.include({ name: 'sigwatch', version: '0.1.0' });
    const listed = sbomPackages(sbom.components);
    const installed = await installedPackages(join(rootfs, final.workdir));
    expect(installed.size).to.be.greaterThan(100);
    expect([...listed].sort()).to.deep.equal([...installed].sort());
    expect([...listed.values()].filter((v) => /^(mocha|typescript|tsx|eslint)@/.test(v))).to.deep.equal([]);
    // Sigwatch reads its own image's SBOM: every listed package, nothing to tolerate.
    const parsed = parseSbomText(text);
    expect(parsed.subject).to.equal('sigwatch');
    expect(parsed.warnings).to.deep.equal([]);
    expect(parsed.components).to.have.length(listed.size);
  });

  describe('under containerd', function () {
    let containerd: PrivateContainerd | undefined;

    before(async function () {
      this.timeout(180_000);
      const started = Date.now();
      containerd = await startContainerd(AbortSignal.timeout(60_000));
      // Unpacking the Node layer dominates (~7 s here).
      await containerd.pull(first.ref, AbortSignal.timeout(150_000));
      say(`containerd up and image pulled in ${String(Date.now() - started)} ms (${containerd.dir})`);
    });

    after(async function () {
      this.timeout(60_000);
      await containerd?.stop();
    });

    it('starts with its default command, prints usage and exits 0', async () => {
      const r = await containerd?.run(first.ref, [], AbortSignal.timeout(60_000));
      expect(r?.stderr).to.equal('');
      expect(r?.code).to.equal(0);
      expect(r?.stdout).to.match(/^Usage: sigwatch /);
      expect(r?.stdout).to.contain('run [options]');
    });

    it('runs as 65532:65532 in /app, NODE_ENV=production, on a read-only root, on the lockfile Node', async () => {
      const probe = [
        'const fs = require("node:fs"), os = require("node:os");',
        'const tryWrite = (p) => { try { fs.writeFileSync(p, "x"); return "written"; } catch (e) { return e.code; } };',
        'console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), user: os.userInfo().username,',
        '  cwd: process.cwd(), env: process.env.NODE_ENV, node: process.version,',
        '  root: tryWrite("/x"), app: tryWrite("/app/x"), tmp: tryWrite("/tmp/x") }));',
      ].join('\n');
      const r = await containerd?.run(first.ref, ['node', '-e', probe], AbortSignal.timeout(60_000));
      expect(r?.code, r?.stderr).to.equal(0);
      expect(JSON.parse(r?.stdout ?? '')).to.deep.equal({
        uid: 65532,
        gid: 65532,
        user: 'nonroot',
        cwd: '/app',
        env: 'production',
        node: `v${pinned('IMAGE_NODE_VERSION')}`,
        // --read-only, as a Pod's readOnlyRootFilesystem: /tmp too (the Deployment mounts an emptyDir there).
        root: 'EROFS',
        app: 'EROFS',
        tmp: 'EROFS',
      });
    });

    it('loads its production dependencies: `crds` prints the CustomResourceDefinitions', async () => {
      const r = await containerd?.run(
        first.ref,
        ['node', '/app/dist/main.js', 'crds'],
        AbortSignal.timeout(60_000),
      );
      expect(r?.code, r?.stderr).to.equal(0);
      expect(r?.stdout.match(/^kind: CustomResourceDefinition$/gm)).to.have.length(allCrds().length);
    });
  });
});
