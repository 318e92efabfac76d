/**
 * `sigwatch sbom FILE`: the normalised SBOM a policy sees (SPDX 2.2/2.3 or
 * CycloneDX 1.2–1.7 JSON), as JSON or a table. Anything that is not a valid
 * SBOM exits 1 with one line naming the reason and the field. The parsers
 * load only when the command runs (sbom-action.ts).
 */
import { Command, Option } from 'commander';
import type { CommandContext } from './context.js';

export function sbomCommand(context: CommandContext): Command {
  return new Command('sbom')
    .description('print the normalised SBOM a policy sees (exit 1: not a valid SBOM)')
    .argument('<file>', 'SPDX or CycloneDX JSON document')
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .action(async (file: string, flags: { output: 'table' | 'json' }) => {
      const { printSbom } = await import('./sbom-action.js');
      printSbom(file, flags.output, context);
    });
}
