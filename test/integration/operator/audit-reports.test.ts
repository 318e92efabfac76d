/**
 * ImageAuditReports on the real API server, without an audit run: a
 * 10,000-pod report is stored in parts (each well under the API server's
 * object limit) and read back whole; pruning keeps `historyLimit` reports
 * with every part of the old ones gone; hostile values are bounded so the
 * API server accepts the report, and the CRD itself refuses what exceeds its
 * bounds when someone else writes it.
 */
import { expect } from 'chai';
import { buildReport } from '../../../src/audit/report.js';
import { readReport, pruneReports, writeReport } from '../../../src/operator/audits/reports.js';
import {
  auditLimits,
  boundReport,
  reportParts,
  type AuditOwner,
  type ImageAuditReportObject,
} from '../../../src/operator/audits/report-parts.js';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import { applyCrd, freshNamespace, kubeConnection } from '../../support/kube.js';
import { image, syntheticReport, viaJson } from '../../support/reports.js';

interface Listed {
  items: { metadata: { name: string; labels: Record<string, string> } }[];
}

describe('operator: ImageAuditReports on the API server', function () {
  this.timeout(180_000);
  const kube = (): KubeHttp => new KubeHttp(kubeConnection());
  let ns: string;
  const reports = (): string => `/apis/sigwatch.dev/v1alpha1/namespaces/${ns}/imageauditreports`;
  const list = async (selector: string): Promise<Listed['items']> =>
    (
      (await kube().call({
        method: 'GET',
        path: `${reports()}?labelSelector=${encodeURIComponent(selector)}`,
      })) as Listed
    ).items;
  /** An ImageAudit to own reports (suspended: nothing runs it here). */
  const audit = async (name: string): Promise<AuditOwner> => {
    const created = (await kube().call({
      method: 'POST',
      path: `/apis/sigwatch.dev/v1alpha1/namespaces/${ns}/imageaudits`,
      body: {
        apiVersion: 'sigwatch.dev/v1alpha1',
        kind: 'ImageAudit',
        metadata: { name },
        spec: { schedule: '0 0 1 1 *', suspend: true },
      },
    })) as { metadata: { uid: string } };
    return { namespace: ns, name, uid: created.metadata.uid };
  };

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    ns = await freshNamespace('reports');
  });

  it('stores a 10,000-pod report in parts under the object limit and reads it back whole and equal', async () => {
    const owner = await audit('big');
    // 4,000 Deployments of one pod each, and one DaemonSet-like image on 6,000 nodes.
    const report = syntheticReport({
      namespace: ns,
      name: 'big',
      images: 4_000,
      podsPerImage: 1,
      extra: [image(99_999, 6_000)],
    });
    const parts = reportParts(owner, 'big-20261205-060000', report);
    expect(parts.length, 'parts').to.be.greaterThan(1);
    await writeReport(kube(), parts);
    const stored = await list('sigwatch.dev/report=big-20261205-060000');
    expect(stored.map((i) => i.metadata.labels['sigwatch.dev/part']).sort()).to.deep.equal(
      parts.map((_, i) => String(i)).sort(),
    );
    for (const p of parts) {
      expect(Buffer.byteLength(JSON.stringify(p)), 'as sent').to.be.at.most(auditLimits.partBytes);
      // As the API server keeps it (managedFields, uid, timestamps added): still far below 1.5 MiB.
      const back = await kube().call({ method: 'GET', path: `${reports()}/${p.metadata.name}` });
      expect(Buffer.byteLength(JSON.stringify(back)), 'as stored').to.be.below(
        auditLimits.partBytes + 16 * 1024,
      );
    }
    const back = await readReport(kube(), ns, 'big-20261205-060000');
    expect(back).to.deep.equal(viaJson(report));
    expect(back.entries.reduce((n, e) => n + e.pods.length, 0)).to.equal(10_000);
  });

  it('prunes to the newest historyLimit reports, every part of the older ones, and only its own', async () => {
    const owner = await audit('pruned');
    const other = await audit('pruned-other');
    const small = { ...auditLimits, partBytes: 8 * 1024 };
    const names = [
      'pruned-20261201-060000',
      'pruned-20261202-060000',
      'pruned-20261203-060000',
      'pruned-20261204-060000',
    ];
    for (const [i, name] of names.entries()) {
      const report = syntheticReport({
        namespace: ns,
        name: 'pruned',
        images: 20 * (i + 1),
        podsPerImage: 2,
      });
      await writeReport(kube(), reportParts(owner, name, report, small));
    }
    const theirs = reportParts(
      other,
      'pruned-other-20261130-060000',
      syntheticReport({ namespace: ns, name: 'pruned-other', images: 3, podsPerImage: 1 }),
    );
    await writeReport(kube(), theirs);
    const before = await list('sigwatch.dev/audit=pruned');
    expect(new Set(before.map((i) => i.metadata.labels['sigwatch.dev/report'])).size).to.equal(4);
    expect(before.length, 'multi-part reports').to.be.greaterThan(8);

    await pruneReports(kube(), owner, 2);
    const after = await list('sigwatch.dev/audit=pruned');
    expect([...new Set(after.map((i) => i.metadata.labels['sigwatch.dev/report']))].sort()).to.deep.equal(
      names.slice(2),
    );
    // The kept ones are whole, the pruned ones have no part left.
    for (const name of names.slice(2))
      expect((await readReport(kube(), ns, name)).audit.name).to.equal('pruned');
    for (const name of names.slice(0, 2)) expect(await list(`sigwatch.dev/report=${name}`)).to.deep.equal([]);
    expect(await list('sigwatch.dev/audit=pruned-other'), 'another audit’s report').to.have.length(
      theirs.length,
    );
  });

  it('bounds hostile values so the API server takes the report, and reads them back as bounded', async () => {
    const owner = await audit('hostile');
    const long = `registry.example.com/${'a'.repeat(100_000)}@sha256:${'0'.repeat(64)}`;
    const report = buildReport({
      audit: { namespace: ns, name: 'hostile' },
      time: new Date('2026-12-05T06:00:00Z'),
      images: [
        {
          image: long,
          // 20,000 tags of one digest: one entry larger than a part.
          references: Array.from(
            { length: 20_000 },
            (_, i) => `registry.example.com/app:tag-${String(i)}-\u0000\u001b😀`,
          ),
          pods: ['team-a/😀'.repeat(100), `team-a/\ud800lone`],
          verdicts: [{ policy: 'p', verdict: 'Compliant', reasons: [], findings: [], signers: [] }],
          signedSbom: false,
        },
      ],
      unmatchedPods: ['x'.repeat(10_000)],
    });
    const parts = reportParts(owner, 'hostile-20261205-060000', report);
    expect(parts.length).to.be.greaterThan(1);
    await writeReport(kube(), parts);
    const back = await readReport(kube(), ns, 'hostile-20261205-060000');
    expect(back).to.deep.equal(viaJson(boundReport(report)));
    const entry = back.entries[0];
    expect(Array.from(entry?.image ?? '')).to.have.length(auditLimits.imageLength);
    expect(entry?.references).to.have.length(20_000);
    // Sorted by UTF-16 code units: the lone surrogate (now U+FFFD) before the emoji.
    expect(entry?.pods.map((p) => Array.from(p).length)).to.deep.equal([12, auditLimits.podLength]);
    expect(entry?.pods[0]).to.equal('team-a/\ufffdlone');
    expect(Array.from(back.unmatchedPods[0] ?? '')).to.have.length(auditLimits.podLength);
  });

  it('refuses, from anyone, a report beyond the schema’s bounds or with a summary off part 0', async () => {
    const owner = await audit('refused');
    const [valid] = reportParts(
      owner,
      'refused-20261205-060000',
      syntheticReport({ namespace: ns, name: 'refused', images: 1, podsPerImage: 1 }),
    );
    if (valid === undefined) throw new Error('no part');
    const post = (o: object): Promise<number> =>
      kube()
        .send({ method: 'POST', path: reports(), body: o })
        .then((r) => r.status);
    const entry = valid.entries?.[0];
    if (entry === undefined) throw new Error('no entry');
    const without = (o: object, key: string): object =>
      Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
    const renamed = (name: string): ImageAuditReportObject['metadata'] => ({ ...valid.metadata, name });
    const bad: [string, object][] = [
      [
        'an image longer than imageLength',
        { ...valid, entries: [{ ...entry, image: 'a'.repeat(auditLimits.imageLength + 1) }] },
      ],
      ['a verdict not in the API', { ...valid, entries: [{ ...entry, verdict: 'Fine' }] }],
      ['part 1 with a summary', { ...valid, part: 1, metadata: renamed('refused-x-1') }],
      ['part 0 without parts', { ...without(valid, 'parts'), metadata: renamed('refused-y') }],
    ];
    for (const [name, o] of bad) expect(await post(o), name).to.equal(422);
    expect(await post(valid), 'the valid one').to.equal(201);
  });
});
