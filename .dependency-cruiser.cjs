// Layering rules of docs/style.md §2, enforced in `npm run lint`:
//   engine (base <- registry, verify, sbom <- policy) <- evidence <- operator; cli uses all.
const engine = '^src/(base|registry|verify|sbom|policy)/';
// The operator's rooms (README "Layout"): kube/ <- evidence/ <- verdicts/ <- the
// reconcilers and servers below, which never import one another; operator.ts
// and controller.ts wire them together and nothing imports those two back;
// crds/ describes the resources (the CLI prints them) and may read any folder.
const consumerFolders = ['evictions', 'audits', 'policy-reports', 'inventory', 'admission', 'api'];
// api/ is the read API the inventory answers through.
const mayUse = { api: ['inventory'] };
const consumers = consumerFolders.join('|');
const topLevel = '^src/operator/(operator|controller)\\.ts$';

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
      name: 'operator-kube-is-plumbing',
      comment:
        'kube/ (API client, watches, leader election, logger, servers) knows nothing of what the operator decides.',
      severity: 'error',
      from: { path: '^src/operator/kube/' },
      to: { path: '^src/operator/(?!kube/)' },
    },
    {
      name: 'operator-evidence-below-verdicts',
      comment: 'evidence/ fetches and keeps what the registry and the cluster say; it judges nothing.',
      severity: 'error',
      from: { path: '^src/operator/evidence/' },
      to: { path: [`^src/operator/(${consumers}|verdicts)/`, topLevel] },
    },
    {
      name: 'operator-verdicts-below-actions',
      comment:
        'verdicts/ (status, marks, scope, Events) is what evictions, audits, reports and admission build on, never the reverse.',
      severity: 'error',
      from: { path: '^src/operator/verdicts/' },
      to: { path: [`^src/operator/(${consumers})/`, topLevel] },
    },
    ...consumerFolders.map((folder) => ({
      name: `operator-${folder}-stands-alone`,
      comment: `${folder}/ uses kube/, evidence/ and verdicts/, not the other reconcilers or the process wiring.`,
      severity: 'error',
      from: { path: `^src/operator/${folder}/` },
      to: {
        path: [
          `^src/operator/(${consumerFolders.filter((f) => f !== folder && !(mayUse[folder] ?? []).includes(f)).join('|')})/`,
          topLevel,
        ],
      },
    })),
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
