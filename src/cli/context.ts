// What every subcommand gets: where to write results (stdout) and notes / progress (stderr), and the global flags.

/** A stream the CLI writes to (process.stdout / process.stderr, or a test double). */
export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** Streams of one CLI run. */
export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
}

/** Per-run state shared by the subcommands. */
export interface CliContext {
  io: CliIO;
  /** --verbose: stack traces, backend skip reasons, tfjs warnings. */
  verbose: boolean;
  /** Writes a result line to stdout. */
  print(line?: string): void;
  /** Writes a status line (backend, timings, file written) to stderr, keeping stdout for results (e.g. JSON). */
  note(line: string): void;
}

/** A context over the given streams. */
export function createContext(io: CliIO, verbose: boolean): CliContext {
  return {
    io,
    verbose,
    print: (line = '') => void io.stdout.write(`${line}\n`),
    note: (line) => void io.stderr.write(`${line}\n`),
  };
}
