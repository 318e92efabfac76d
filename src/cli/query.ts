/**
 * `sigwatch query PURL FILE...`: which SBOMs contain a package, optionally in
 * a version range (`--versions '<2.17.1'` or `vers:maven/<2.17.1`). Exit 0
 * when some SBOM contains it in range, 1 when none does, 2 when a file could
 * not be read as an SBOM or a version could not be compared (undecided).
 */
import { Command, Option } from 'commander';
import { CliError, describeError, isSigwatchError } from '../base/errors.js';
import { parsePurl } from '../sbom/purl.js';
import { findPackage, type PackageRule } from '../sbom/query.js';
import { parseRange } from '../sbom/range.js';
import type { CommandContext } from './context.js';
import { oneLine } from './inputs.js';
import { readSbomFile } from './sbom.js';

interface QueryRow {
  readonly file: string;
  readonly name?: string;
  readonly version?: string | undefined;
  readonly purl?: string | undefined;
  readonly inRange?: boolean | 'unparseable';
  readonly error?: string;
}

function ruleFrom(purlText: string, versions: string | undefined): PackageRule {
  const purl = parsePurl(purlText);
  if (purl === undefined) throw new CliError('UsageError', `not a package URL: ${purlText}`);
  // A version in the purl itself means exactly that version.
  const rangeText = versions ?? (purl.version === undefined ? undefined : `=${purl.version}`);
  if (rangeText === undefined) return { purl: { ...purl, version: undefined } };
  const range = parseRange(rangeText, purl.type);
  if (range === undefined)
    throw new CliError('UsageError', `not a version range for ${purl.type}: ${rangeText}`);
  return { purl: { ...purl, version: undefined }, range };
}

export function queryCommand(context: CommandContext): Command {
  return new Command('query')
    .description('which SBOM files contain a package (exit 0: found, 1: not found, 2: undecided)')
    .argument('<purl>', 'package URL, e.g. pkg:maven/org.apache.logging.log4j/log4j-core')
    .argument('<file...>', 'SPDX or CycloneDX JSON documents')
    .option('--versions <range>', "version range, e.g. '<2.17.1' or 'vers:maven/>=2.0|<2.17.1'")
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .action((purlText: string, files: string[], flags: { versions?: string; output: 'table' | 'json' }) => {
      const rule = ruleFrom(purlText, flags.versions);
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
