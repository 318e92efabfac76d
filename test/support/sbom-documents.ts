/** Small SPDX and CycloneDX documents for evaluator tests: one component per entry. */

export interface TestPackage {
  readonly name: string;
  readonly version?: string;
  readonly purl?: string;
  readonly license?: string;
}

export const log4j = (version: string): TestPackage => ({
  name: 'log4j-core',
  version,
  purl: `pkg:maven/org.apache.logging.log4j/log4j-core@${version}`,
  license: 'Apache-2.0',
});

export function spdx(packages: readonly TestPackage[], created = '2026-05-01T00:00:00Z'): object {
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: 'app',
    documentNamespace: 'https://sigwatch.test/spdx/app',
    creationInfo: { created, creators: ['Tool: sigwatch-test'] },
    packages: packages.map((p, i) => ({
      SPDXID: `SPDXRef-Package-${String(i)}`,
      name: p.name,
      ...(p.version === undefined ? {} : { versionInfo: p.version }),
      downloadLocation: 'NOASSERTION',
      ...(p.license === undefined ? {} : { licenseConcluded: p.license }),
      ...(p.purl === undefined
        ? {}
        : {
            externalRefs: [
              { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl },
            ],
          }),
    })),
  };
}

/** CycloneDX 1.5; `timestamp` undefined leaves the document undated. */
export function cyclonedx(packages: readonly TestPackage[], timestamp?: string): object {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    metadata: {
      ...(timestamp === undefined ? {} : { timestamp }),
      component: { type: 'container', name: 'app' },
    },
    components: packages.map((p) => ({
      type: 'library',
      name: p.name,
      ...(p.version === undefined ? {} : { version: p.version }),
      ...(p.purl === undefined ? {} : { purl: p.purl }),
      ...(p.license === undefined ? {} : { licenses: [{ expression: p.license }] }),
    })),
  };
}
