// What a module in src/cli/commands/ exports.
export interface Command {
  /** One line for `xai --help`. */
  summary: string;
  /** Full help text printed by `xai <name> --help`. */
  usage: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}
