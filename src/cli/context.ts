/** What every command gets from the program; kept apart so commands never import program.ts (no cycle). */
import type { Command } from 'commander';

export interface Output {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** What a command gets from the program: where to write and how to report its exit code. */
export interface CommandContext {
  readonly output: Output;
  setExitCode(code: number): void;
}

/** Each command lives in its own file under src/cli and is registered in program.ts. */
export type CommandFactory = (context: CommandContext) => Command;
