/**
 * The operator image (Dockerfile). No daemonless builder can build it on
 * these machines: buildah installs from Debian, but pulling the base image
 * (docker.io/library/node:24-bookworm-slim) needs a network they do not
 * have (see the README). What can be checked without it is checked: every
 * file the Dockerfile copies exists after `npm run build`, and the
 * entrypoint runs from a production-only install (`npm ci --omit=dev`),
 * as the image's second stage has it.
 */
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { exec } from '../support/exec.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('Dockerfile', function () {
  this.timeout(300_000);

  it('copies files that exist, and its entrypoint runs from a production-only install', async () => {
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).to.match(/^FROM node:24[-\w.]* AS build$/m);
    expect(dockerfile).to.match(/^USER 65532:65532$/m);
    const entry = /^ENTRYPOINT \["node", "\/app\/(\S+)"\]$/m.exec(dockerfile)?.[1];
    expect(entry).to.equal('dist/main.js');
    // COPY sources of the build stage (from the context) and the final stage's COPY crds.
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      (m[1] ?? '').split(/\s+/),
    );
    expect(sources).to.include.members(['package.json', 'package-lock.json', 'src', 'crds']);
    for (const s of sources) expect(existsSync(join(root, s)), `COPY ${s}`).to.equal(true);

    await exec('npm', ['run', 'build'], { cwd: root, timeoutMs: 240_000 });
    const app = await mkdtemp(join(tmpdir(), 'sigwatch-image-'));
    for (const f of ['package.json', 'package-lock.json']) await cp(join(root, f), join(app, f));
    // What the final stage holds: production dependencies only (no install scripts: the image has no compiler).
    await exec('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: app,
      timeoutMs: 240_000,
    });
    await cp(join(root, 'dist'), join(app, 'dist'), { recursive: true });
    await cp(join(root, 'crds'), join(app, 'crds'), { recursive: true });
    expect(existsSync(join(app, 'node_modules', 'typescript')), 'a dev dependency in the image').to.equal(
      false,
    );
    const node = join(root, 'node_modules', '.bin', 'node'); // Node 24, as the image's
    const help = await exec(node, [join(app, entry ?? ''), 'run', '--help'], { cwd: app, timeoutMs: 60_000 });
    expect(help.stdout).to.contain('--inventory-port');
    const crds = await exec(node, [join(app, entry ?? ''), 'crds'], { cwd: app, timeoutMs: 60_000 });
    expect(crds.stdout).to.contain('kind: CustomResourceDefinition');
  });
});
