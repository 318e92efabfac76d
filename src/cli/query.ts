/**
 * `sigwatch query PURL FILE...`: which SBOMs contain a package, optionally in
 * a version range (`--versions '<2.17.1'` or `vers:maven/<2.17.1`). Exit 0
 * when some SBOM contains it in range, 1 when none does, 2 when a file could
 * not be read as an SBOM or a version could not be compared (undecided).
 */
import { Command, Option } from 'commander';
import type { CommandContext } from './context.js';
import { repeatable } from './flags.js';
import type { QueryFlags } from './query-action.js';

export function queryCommand(context: CommandContext): Command {
  return new Command('query')
    .description(
      'which SBOM files, or with --cluster which running pods, contain a package (exit 0: found, 1: not found, 2: undecided)',
    )
    .argument('<purl>', 'package URL, e.g. pkg:maven/org.apache.logging.log4j/log4j-core')
    .argument('[file...]', 'SPDX or CycloneDX JSON documents (not with --cluster)')
    .option('--versions <range>', "version range, e.g. '<2.17.1' or 'vers:maven/>=2.0|<2.17.1'")
    .option(
      '--cluster',
      'ask the cluster (a PackageQuery through the API server, with the kubeconfig credentials) which running pods contain it',
      false,
    )
    .option('--kubeconfig <path>', 'kubeconfig to use (default: the usual loading rules)')
    .option('--context <name>', 'kubeconfig context to use (default: its current context)')
    .option(
      '-n, --namespace <name>',
      'with --cluster: search this namespace (repeatable; default: all namespaces, which needs permission to list imageverdicts in all)',
      repeatable,
      [],
    )
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .action(async (purlText: string, files: string[], flags: QueryFlags) => {
      const { queryPackage } = await import('./query-action.js');
      await queryPackage(purlText, files, flags, context);
    });
}
