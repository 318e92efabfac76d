/**
 * Every object under config/ is one the API server accepts: each is sent
 * to the test environment's kube-apiserver as a server-side dry-run create,
 * which runs the full validation (schemas, defaulting, admission) and
 * stores nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { KubeHttp } from '../../src/operator/kube-http.js';
import { kubeConfig } from '../support/kube.js';

const configDir = fileURLToPath(new URL('../../config/', import.meta.url));

/** Not objects for a plain cluster: rule files and dashboards, checked by observability.test.ts. */
const elsewhere = new Set(['prometheus', 'grafana']);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? elsewhere.has(e.name)
        ? []
        : yamlFiles(join(dir, e.name))
      : e.name.endsWith('.yaml') && e.name !== 'kustomization.yaml'
        ? [join(dir, e.name)]
        : [],
  );
}

/** Collection paths of the kinds config/ holds; a new kind must be added here, or the test fails. */
const collections: Readonly<Record<string, (ns: string) => string>> = {
  'networking.k8s.io/v1/NetworkPolicy': (ns) => `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`,
};

describe('config/', () => {
  const files = yamlFiles(configDir);

  it('holds objects', () => {
    expect(files.length).to.be.greaterThan(0);
  });

  for (const file of files) {
    it(`${relative(configDir, file)} passes the API server's validation`, async () => {
      const kube = new KubeHttp(kubeConfig());
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const object = doc.toJSON() as { apiVersion: string; kind: string; metadata: { namespace?: string } };
        const collection = collections[`${object.apiVersion}/${object.kind}`];
        expect(collection, `${object.apiVersion} ${object.kind} has no collection path here`).to.not.equal(
          undefined,
        );
        const ns = object.metadata.namespace ?? 'default';
        // A dry run still needs the namespace to exist.
        await kube.send({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } } });
        const res = await kube.send({
          method: 'POST',
          path: `${collection?.(ns) ?? ''}?dryRun=All&fieldValidation=Strict`,
          body: object,
        });
        expect(res.status, JSON.stringify(res.body)).to.equal(201);
      }
    });
  }
});
