import { expect } from 'chai';
import { workloadOf } from '../../../../src/operator/evictions/owners.js';

describe('operator/evictions/owners: workloadOf', () => {
  // [case, the pod's controlling owner as Kind/name ('' for none), its pod-template-hash label, workload]
  const rows: [string, string, string | undefined, string][] = [
    ["a Deployment's ReplicaSet", 'ReplicaSet/web-7c5ddbdf54', '7c5ddbdf54', 'Deployment/web'],
    ['the same Deployment after a rollout', 'ReplicaSet/web-5f9c8b7d6', '5f9c8b7d6', 'Deployment/web'],
    ['a ReplicaSet without the hash label', 'ReplicaSet/cache-rs', undefined, 'ReplicaSet/cache-rs'],
    ['a hash its name does not end with', 'ReplicaSet/web-xyz', 'abc', 'ReplicaSet/web-xyz'],
    ['a ReplicaSet named only by the hash', 'ReplicaSet/-abc', 'abc', 'ReplicaSet/-abc'],
    ['an empty hash label', 'ReplicaSet/web-', '', 'ReplicaSet/web-'],
    ['a StatefulSet (the label means nothing there)', 'StatefulSet/db', '0', 'StatefulSet/db'],
    ['a bare pod', '', undefined, 'Pod/debug'],
  ];
  for (const [name, owner, hash, workload] of rows)
    it(name, () => {
      const [kind = '', ownerName = ''] = owner.split('/');
      const pod = {
        name: 'debug',
        labels: hash === undefined ? {} : { 'pod-template-hash': hash },
        ...(owner === '' ? {} : { owner: { kind, name: ownerName } }),
      };
      expect(workloadOf(pod)).to.equal(workload);
    });
});
