/**
 * `sigwatch audit`: a one-shot supply-chain audit of the current
 * kubeconfig's cluster, printing the report an ImageAudit run stores.
 * Exit 1 if anything is NonCompliant, else 2 if anything is Unknown, else 0.
 */
import { Command, Option } from 'commander';
import { describeError } from '../base/errors.js';
import type { CommandContext } from './context.js';
import { oneLine, repeatable } from './flags.js';

interface AuditFlags {
  readonly kubeconfig?: string;
  readonly namespace: string;
  readonly onlyNamespace?: string;
  readonly policy: string[];
  readonly insecureRegistry: string[];
  readonly registryCredentialsSecret?: string;
  readonly output: 'table' | 'json';
}

export function auditCommand(context: CommandContext): Command {
  return new Command('audit')
    .description(
      "one-shot audit of the kubeconfig's cluster: every running image against the ImagePolicies (exit 1: something NonCompliant, 2: something Unknown, 0: all compliant)",
    )
    .option('--kubeconfig <path>', 'kubeconfig (default: the usual loading rules)')
    .option(
      '--namespace <ns>',
      "the operator's namespace: its Secrets and ConfigMaps hold the keys and trusted roots policies name",
      process.env['POD_NAMESPACE'] ?? 'sigwatch-system',
    )
    .option('--only-namespace <ns>', 'audit the pods of this namespace only')
    .option('--policy <name>', 'apply only this ImagePolicy (repeatable; default: all)', repeatable, [])
    .option('--insecure-registry <host>', 'speak plain HTTP to this registry (repeatable)', repeatable, [])
    .option(
      '--registry-credentials-secret <name>',
      'dockerconfigjson Secret in --namespace with registry credentials',
    )
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .action(async (flags: AuditFlags) => {
      // Loaded on demand: the Kubernetes client and winston are heavy for the other commands.
      const [{ auditCluster }, { auditExitCode, renderTable }, { createLogger }] = await Promise.all([
        import('../operator/audits/one-shot.js'),
        import('../audit/report.js'),
        import('../operator/kube/logger.js'),
      ]);
      try {
        const report = await auditCluster({
          ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }),
          operatorNamespace: flags.namespace,
          scope: {
            ...(flags.onlyNamespace === undefined ? {} : { namespace: flags.onlyNamespace }),
            policies: flags.policy,
          },
          insecureRegistries: flags.insecureRegistry,
          ...(flags.registryCredentialsSecret === undefined
            ? {}
            : { registryCredentialsSecret: flags.registryCredentialsSecret }),
          logger: createLogger('warn', 'text'),
        });
        context.output.writeOut(
          flags.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report),
        );
        context.setExitCode(auditExitCode(report));
      } catch (error: unknown) {
        // The cluster or a registry could not be asked: undecided, like Unknown.
        context.output.writeErr(`sigwatch: audit failed: ${oneLine(describeError(error))}\n`);
        context.setExitCode(2);
      }
    });
}
