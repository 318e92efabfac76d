// Layering rules of docs/style.md §2, enforced in `npm run lint`:
//   engine (base <- registry, verify, sbom <- policy) <- evidence <- operator; cli uses all.
const engine = '^src/(base|registry|verify|sbom|policy)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'no-orphans',
      severity: 'error',
      from: { orphan: true, pathNot: ['\\.d\\.ts$', '^src/main\\.ts$'] },
      to: {},
    },
    {
      name: 'engine-no-kubernetes',
      comment:
        'The verification engine has no Kubernetes, metrics or logging imports; it takes explicit options.',
      severity: 'error',
      from: { path: engine },
      to: {
        path: [
          '^node_modules/(@kubernetes|prom-client|winston)/',
          '^src/(settings|evidence|operator|cli)/',
          '^src/main\\.ts$',
        ],
      },
    },
    {
      name: 'base-is-a-leaf',
      severity: 'error',
      from: { path: '^src/base/' },
      to: { path: '^src/(?!base/)' },
    },
    {
      name: 'registry-sbom-below-policy',
      comment: 'registry and sbom know nothing of signatures or policies.',
      severity: 'error',
      from: { path: '^src/(registry|sbom)/' },
      to: { path: '^src/(verify|policy)/' },
    },
    {
      name: 'verify-below-policy',
      severity: 'error',
      from: { path: '^src/verify/' },
      to: { path: '^src/(policy|sbom)/' },
    },
    {
      name: 'evidence-below-operator',
      severity: 'error',
      from: { path: '^src/evidence/' },
      to: { path: '^src/(operator|cli)/' },
    },
    {
      name: 'operator-below-cli',
      severity: 'error',
      from: { path: '^src/operator/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-not-to-dev-deps',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
