/**
 * Mocha root hooks for the integration suite: the real environment is started
 * once per run, before the first test, and stopped after the last one.
 */
import type { RootHookObject } from 'mocha';
import { stopClusterEnv } from './cluster.js';
import { currentTestEnv, setTestEnv, startTestEnv, stopTestEnv } from './testenv.js';

export const mochaHooks: RootHookObject = {
  async beforeAll(this: Mocha.Context) {
    // A cold kube-apiserver start takes 5-20 s on two cores.
    this.timeout(240_000);
    setTestEnv(await startTestEnv());
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(180_000);
    try {
      // The cluster, if a test started one (test/support/cluster.ts).
      await stopClusterEnv();
    } finally {
      // A failed cluster stop still reports (it is rethrown), but must not
      // leave the bare environment's processes running on the machine.
      const env = currentTestEnv();
      if (env !== undefined) {
        await stopTestEnv(env);
        setTestEnv(undefined);
      }
    }
  },
};
