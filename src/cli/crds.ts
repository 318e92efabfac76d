/**
 * `sigwatch crds`: the CustomResourceDefinitions, as YAML documents on
 * stdout, or one file per CRD with `--out-dir` (how `crds/` is generated:
 * `npm run crds`). Applying them: `sigwatch crds | kubectl apply -f -`.
 */
import { Command } from 'commander';
import type { CommandContext } from './context.js';

export function crdsCommand(context: CommandContext): Command {
  return new Command('crds')
    .description('print the sigwatch.dev CustomResourceDefinitions (sigwatch crds | kubectl apply -f -)')
    .option('--out-dir <dir>', 'write one file per CRD into this directory instead of printing')
    .action(async (flags: { outDir?: string }) => {
      // The CRD schemas and the YAML writer load only for this command.
      const { printCrds } = await import('./crds-action.js');
      printCrds(flags.outDir, context);
    });
}
