/**
 * `sigwatch crds`: the CustomResourceDefinitions, as YAML documents on
 * stdout, or one file per CRD with `--out-dir` (how `crds/` is generated:
 * `npm run crds`). Applying them: `sigwatch crds | kubectl apply -f -`.
 */
import { Command, Option } from 'commander';
import type { CommandContext } from './context.js';

export function crdsCommand(context: CommandContext): Command {
  return (
    new Command('crds')
      .description('print the sigwatch.dev CustomResourceDefinitions (sigwatch crds | kubectl apply -f -)')
      .option('--out-dir <dir>', 'write one file per CRD into this directory instead of printing')
      // For maintainers (`npm run docs`): the README's field tables, generated from the same field docs.
      .addOption(new Option('--readme <file>', 'rewrite the generated field tables of this file').hideHelp())
      .action(async (flags: { outDir?: string; readme?: string }) => {
        // The CRD schemas and the YAML writer load only for this command.
        const { printCrds, writeReadmeTables } = await import('./crds-action.js');
        if (flags.readme === undefined) printCrds(flags.outDir, context);
        else writeReadmeTables(flags.readme, context);
      })
  );
}
