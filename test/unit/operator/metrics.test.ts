import { expect } from 'chai';
import { maxRegistryLabels, OperatorMetrics } from '../../../src/operator/metrics.js';

/** The `registry` label values of sigwatch_registry_requests_total in the exposition text. */
async function registryLabels(metrics: OperatorMetrics): Promise<string[]> {
  const text = await metrics.metricsText();
  const values = [...text.matchAll(/^sigwatch_registry_requests_total\{registry="([^"]*)"/gm)].map(
    (m) => m[1] ?? '',
  );
  return [...new Set(values)].sort();
}

describe('operator/metrics', () => {
  describe('finding 8: the registry label is bounded', () => {
    it(`documents a cap of ${String(maxRegistryLabels)} registries`, () => {
      expect(maxRegistryLabels).to.equal(32);
    });

    it('folds registries beyond the cap into "other", keeping the first ones', async () => {
      const metrics = new OperatorMetrics({ maxRegistryLabels: 3 });
      for (let i = 0; i < 10; i++) metrics.recordRegistryRequest(`r${String(i)}.example`, 200, 0.01);
      metrics.recordRegistryRequest('r0.example', 404, 0.01);
      expect(await registryLabels(metrics)).to.deep.equal([
        'other',
        'r0.example',
        'r1.example',
        'r2.example',
      ]);
      const text = await metrics.metricsText();
      expect(text).to.match(/^sigwatch_registry_requests_total\{registry="other",code="200"\} 7$/m);
      expect(text).to.match(/^sigwatch_registry_requests_total\{registry="r0.example",code="404"\} 1$/m);
      expect(text).to.match(/^sigwatch_registry_request_duration_seconds_count\{registry="other"\} 7$/m);
    });

    it('holds at the default cap however many registries there are', async () => {
      const metrics = new OperatorMetrics();
      for (let i = 0; i < 100; i++) metrics.recordRegistryRequest(`r${String(i)}.example`, 200, 0.01);
      const labels = await registryLabels(metrics);
      expect(labels).to.have.lengthOf(maxRegistryLabels + 1);
      expect(labels).to.include('other');
    });
  });
});
