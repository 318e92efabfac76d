/**
 * What `sigwatch sbom FILE` does (flags and help in sbom.ts), and the SBOM
 * file reading `query` shares: parse the file, print the normalised SBOM.
 */
import { CliError, describeError, isSigwatchError } from '../base/errors.js';
import type { NormalisedSbom } from '../sbom/model.js';
import { parseSbomText } from '../sbom/parse.js';
import type { CommandContext } from './context.js';
import { oneLine } from './flags.js';
import { readInputText } from './inputs.js';

/** Reads and parses an SBOM file; a file that cannot be read is a usage error. */
export function readSbomFile(path: string): NormalisedSbom {
  return parseSbomText(readInputText(path, 'SBOM'));
}

export function sbomJson(sbom: NormalisedSbom): object {
  return {
    format: sbom.format,
    specVersion: sbom.specVersion,
    created: sbom.created?.toISOString(),
    subject: sbom.subject,
    components: sbom.components.map((c) => ({
      name: c.name,
      version: c.version,
      purl: c.purl,
      licenses: c.licenses,
    })),
    warnings: sbom.warnings,
  };
}

function sbomTable(sbom: NormalisedSbom): string {
  const head = `${sbom.format} ${sbom.specVersion}  subject: ${sbom.subject ?? '-'}  created: ${sbom.created?.toISOString() ?? '-'}  components: ${String(sbom.components.length)}\n`;
  const rows = sbom.components.map((c) => [
    c.name,
    c.version ?? '-',
    c.purl ?? '-',
    c.licenses.join(' ') || '-',
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length), 4));
  const line = (r: string[]): string => r.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c)).join('  ');
  return head + [line(['NAME', 'VERSION', 'PURL', 'LICENSES']), ...rows.map(line)].join('\n') + '\n';
}

/**
 * The `sbom` command's action: prints the normalised SBOM of `file`, or one
 * line and exit code 1 when it is not a valid SBOM.
 * @throws CliError `UsageError` when the file cannot be read.
 */
export function printSbom(file: string, format: 'table' | 'json', context: CommandContext): void {
  let sbom: NormalisedSbom;
  try {
    sbom = readSbomFile(file);
  } catch (error: unknown) {
    if (error instanceof CliError || !isSigwatchError(error)) throw error;
    context.output.writeErr(`sigwatch: sbom: ${oneLine(describeError(error))}\n`);
    context.setExitCode(1);
    return;
  }
  context.output.writeOut(
    format === 'json' ? `${JSON.stringify(sbomJson(sbom), null, 2)}\n` : sbomTable(sbom),
  );
}
