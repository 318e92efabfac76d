/**
 * `sigwatch query PURL FILE...`: which SBOMs contain a package, optionally in
 * a version range (`--versions '<2.17.1'` or `vers:maven/<2.17.1`). Exit 0
 * when some SBOM contains it in range, 1 when none does, 2 when a file could
 * not be read as an SBOM or a version could not be compared (undecided).
 */
import { Command, Option } from 'commander';
import { CliError, describeError, isSigwatchError } from '../base/errors.js';
import { findPackage, parsePackageRule } from '../sbom/query.js';
import type { CommandContext } from './context.js';
import { oneLine, repeatable } from './inputs.js';
import { readSbomFile } from './sbom.js';

interface QueryRow {
  readonly file: string;
  readonly name?: string;
  readonly version?: string | undefined;
  readonly purl?: string | undefined;
  readonly inRange?: boolean | 'unparseable';
  readonly error?: string;
}

interface QueryFlags {
  readonly versions?: string;
  readonly output: 'table' | 'json';
  readonly cluster: boolean;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace: string[];
}

/** `--cluster`: the running pods that contain the package, from a PackageQuery through the API server. */
async function queryRunningPods(context: CommandContext, purlText: string, flags: QueryFlags): Promise<void> {
  parsePackageRule(purlText, flags.versions); // bad input is a usage error here, not a 400 from afar
  const { queryCluster } = await import('./query-cluster.js');
  let matches;
  try {
    matches = await queryCluster({
      purl: purlText,
      ...(flags.versions === undefined ? {} : { versions: flags.versions }),
      ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }),
      ...(flags.context === undefined ? {} : { context: flags.context }),
      ...(flags.namespace.length === 0 ? {} : { namespaces: flags.namespace }),
    });
  } catch (error: unknown) {
    if (error instanceof CliError) throw error;
    context.output.writeErr(`sigwatch: ${oneLine(describeError(error))}\n`);
    context.setExitCode(2);
    return;
  }
  context.output.writeOut(
    flags.output === 'json'
      ? `${JSON.stringify(matches, null, 2)}\n`
      : matches
          .map(
            (m) =>
              `${m.namespace}/${m.pod}  ${m.container}  ${m.image}  ${m.purl} ${m.version ?? '-'}  ${m.inRange === true ? 'IN RANGE' : 'version not comparable'}${m.signed ? '' : '  (unsigned SBOM)'}`,
          )
          .join('\n') + (matches.length > 0 ? '\n' : ''),
  );
  const found = matches.some((m) => m.inRange === true);
  context.setExitCode(found ? 0 : matches.length > 0 ? 2 : 1);
}

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
      if (flags.cluster) {
        if (files.length > 0) throw new CliError('UsageError', '--cluster takes no SBOM files');
        await queryRunningPods(context, purlText, flags);
        return;
      }
      if (files.length === 0)
        throw new CliError('UsageError', 'name SBOM files, or --cluster for running pods');
      const rule = parsePackageRule(purlText, flags.versions);
      const rows: QueryRow[] = [];
      for (const file of files) {
        try {
          for (const m of findPackage(readSbomFile(file), rule)) {
            rows.push({
              file,
              name: m.component.name,
              version: m.component.version,
              purl: m.component.purl,
              inRange: m.inRange,
            });
          }
        } catch (error: unknown) {
          if (!isSigwatchError(error)) throw error;
          rows.push({ file, error: oneLine(describeError(error)) });
        }
      }
      const found = rows.some((r) => r.inRange === true);
      const undecided = rows.some((r) => r.error !== undefined || r.inRange === 'unparseable');
      context.output.writeOut(
        flags.output === 'json'
          ? `${JSON.stringify(rows, null, 2)}\n`
          : rows
              .map((r) =>
                r.error === undefined
                  ? `${r.file}  ${r.name ?? ''} ${r.version ?? '-'}  ${r.inRange === true ? 'IN RANGE' : r.inRange === false ? 'outside range' : 'version not comparable'}`
                  : `${r.file}  error: ${r.error}`,
              )
              .join('\n') + (rows.length > 0 ? '\n' : ''),
      );
      context.setExitCode(found ? 0 : undecided ? 2 : 1);
    });
}
