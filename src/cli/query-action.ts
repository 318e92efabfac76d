/**
 * What `sigwatch query` does (flags, exit codes in query.ts): look a package
 * up in SBOM files, or with `--cluster` ask the API server.
 */
import { CliError, describeError, isSigwatchError } from '../base/errors.js';
import { findPackage, parsePackageRule } from '../sbom/query.js';
import type { CommandContext } from './context.js';
import { oneLine } from './flags.js';
import { readSbomFile } from './sbom-action.js';

interface QueryRow {
  readonly file: string;
  readonly name?: string;
  readonly version?: string | undefined;
  readonly purl?: string | undefined;
  readonly inRange?: boolean | 'unparseable';
  readonly error?: string;
}

export interface QueryFlags {
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

/** The `query` command's action; exit codes in query.ts. */
export async function queryPackage(
  purlText: string,
  files: readonly string[],
  flags: QueryFlags,
  context: CommandContext,
): Promise<void> {
  if (flags.cluster) {
    if (files.length > 0) throw new CliError('UsageError', '--cluster takes no SBOM files');
    await queryRunningPods(context, purlText, flags);
    return;
  }
  if (files.length === 0) throw new CliError('UsageError', 'name SBOM files, or --cluster for running pods');
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
}
