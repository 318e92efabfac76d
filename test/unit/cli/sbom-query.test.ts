import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../../src/cli/program.js';
import { testdataUrl } from '../../support/testdata.js';

const file = (path: string): string => fileURLToPath(testdataUrl(path));
const spdxVuln = file('guac-data/spdx_vuln/spdx_vuln.json');
const cdxgen = file('cdxgen/bom-postgen-test2/bom-postgen-test2.json');
const mongo = file('guac/big-mongo-cyclonedx/big-mongo-cyclonedx.json');
const log4j = 'pkg:maven/org.apache.logging.log4j/log4j-core';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  return { code, out, err };
}

describe('cli/sbom and cli/query', () => {
  it('sbom prints the normalised document as JSON', async () => {
    const r = await cli(['sbom', '-o', 'json', spdxVuln]);
    expect(r.code, r.err).to.equal(0);
    const doc = JSON.parse(r.out) as {
      format: string;
      specVersion: string;
      components: { name: string; version?: string }[];
    };
    expect(doc.format).to.equal('SPDX');
    expect(doc.specVersion).to.equal('2.2');
    expect(doc.components.filter((c) => c.name === 'log4j-core').map((c) => c.version)).to.deep.equal([
      '2.8.1',
    ]);
  });

  it('sbom rejects an invalid document with exit 1 and one line naming the code', async () => {
    const r = await cli(['sbom', file('guac/invalid-spdx_fail/invalid-spdx.json')]);
    expect(r.code).to.equal(1);
    expect(r.err.trim().split('\n')).to.have.lengthOf(1);
    expect(r.err).to.match(/^sigwatch: sbom: Sbom(Invalid|Unsupported): /);
  });

  it('query finds log4j-core < 2.17.1 in the SBOMs that carry it (exit 0)', async () => {
    const r = await cli(['query', log4j, '--versions', '<2.17.1', '-o', 'json', spdxVuln, cdxgen, mongo]);
    expect(r.code, r.err).to.equal(0);
    const rows = JSON.parse(r.out) as { file: string; version: string; inRange: boolean }[];
    expect(rows.map((x) => [x.file, x.version, x.inRange])).to.deep.equal([
      [spdxVuln, '2.8.1', true],
      [cdxgen, '2.9.1', true],
    ]);
  });

  it('query answers 1 when the package is only outside the range', async () => {
    const r = await cli(['query', log4j, '--versions', 'vers:maven/<2.8.0', spdxVuln, cdxgen]);
    expect(r.code).to.equal(1);
    expect(r.out).to.contain('outside range');
  });

  it('query takes the version from the purl itself', async () => {
    expect((await cli(['query', `${log4j}@2.9.1`, spdxVuln, cdxgen])).code).to.equal(0);
    expect((await cli(['query', `${log4j}@2.17.1`, spdxVuln, cdxgen])).code).to.equal(1);
  });

  it('query answers 2 when a file is not an SBOM, and 64 for a bad purl or range', async () => {
    expect((await cli(['query', log4j, file('guac/invalid-spdx_fail/invalid-spdx.json')])).code).to.equal(2);
    expect((await cli(['query', 'log4j-core', spdxVuln])).code).to.equal(64);
    expect((await cli(['query', log4j, '--versions', '<<2', spdxVuln])).code).to.equal(64);
  });
});
