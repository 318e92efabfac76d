/**
 * The upstream `PolicyReport` CRD (wgpolicyk8s.io/v1alpha2), vendored byte for
 * byte in test/fixtures/kyverno-crds/ (origin and license in its README), as
 * the object `kubectl apply` would send.
 */
import { parse } from 'yaml';
import { readTestdata } from './testdata.js';

export const policyReportCrdPath = 'kyverno-crds/config/crds/policyreport/wgpolicyk8s.io_policyreports.yaml';

export function policyReportCrd(): object {
  const crd: unknown = parse(readTestdata(policyReportCrdPath));
  if (typeof crd !== 'object' || crd === null) throw new TypeError(`${policyReportCrdPath} is not an object`);
  return crd;
}
