// The neurostagenet command: dispatch to a subcommand, print help, and turn errors into one line + exit code.
//   0 ok; 1 the command ran and failed (unreadable file, missing column, bad model, no backend...);
//   2 the command line is wrong (unknown command or option, missing argument, bad value, input path missing).
import { readFileSync } from 'node:fs';
import { NeuroStageNetError } from '../errors.js';
import { GLOBAL_OPTIONS, UsageError, splitCommand } from './args.js';
import { createContext, type CliIO } from './context.js';
import { EVALUATE_HELP, evaluateCommand } from './commands/evaluate.js';
import { EXPLAIN_HELP, explainCommand } from './commands/explain.js';
import { INSPECT_HELP, inspectCommand } from './commands/inspect.js';
import { PREDICT_HELP, predictCommand } from './commands/predict.js';
import { TRAIN_HELP, trainCommand } from './commands/train.js';
import type { CliContext } from './context.js';

const COMMANDS: Record<string, { help: string; run: (args: string[], ctx: CliContext) => Promise<number> }> = {
  inspect: { help: INSPECT_HELP, run: inspectCommand },
  train: { help: TRAIN_HELP, run: trainCommand },
  evaluate: { help: EVALUATE_HELP, run: evaluateCommand },
  predict: { help: PREDICT_HELP, run: predictCommand },
  explain: { help: EXPLAIN_HELP, run: explainCommand },
};

export const MAIN_HELP = `Usage: neurostagenet <command> [arguments] [options]

Explainable Alzheimer's-stage classification of brain MRI slices (TensorFlow.js).
Research software: not a medical device, not a diagnosis.

Commands
  inspect   <file.parquet> [--compare other.parquet]    data summary and leakage check
  train     <train.parquet> [--test test.parquet]       train NeuroStageNet, calibrate, report
  evaluate  <model-dir|--pretrained> <file.parquet>     metrics + report files (JSON, text, PNG)
  predict   <model-dir|--pretrained> <parquet|images>   stage probabilities per image
  explain   <model-dir|--pretrained> <parquet|images>   Grad-CAM overlay PNGs

Global options
  --backend NAME     tensorflow (tfjs-node) | wasm | cpu; default: the fastest installed
  --out DIR          where a command writes its files
  -v, --verbose      stack traces on errors, backend details, tfjs warnings
  -h, --help         help (also: neurostagenet <command> --help)
  --version          print the version

Exit codes: 0 success, 1 the command failed (bad file, missing column, no model...), 2 usage error,
3 the input check refused every input (nothing classified).

Examples
  neurostagenet inspect train.parquet --compare test.parquet
  neurostagenet train train.parquet --test test.parquet --out run1
  neurostagenet predict run1/model scan.png
  neurostagenet explain --pretrained test.parquet --rows 0,1,2 --out heatmaps
`;

function version(): string {
  // dist/cli.js is one level below the package root, src/cli/run.ts two: try both.
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'neurostagenet' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

/** One line: newlines of multi-line messages (e.g. the backend list) become '; '. */
function oneLine(message: string): string {
  return message.split('\n').map((s) => s.trim()).filter(Boolean).join('; ');
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code. Never throws.
 * @param argv Command-line arguments.
 * @param io Output streams (default: the process's).
 */
export async function runCli(argv: readonly string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const ctx = createContext(io, verbose);
  const { command, rest } = splitCommand(argv);
  try {
    if (command === undefined) {
      if (rest.includes('--version')) {
        ctx.print(version());
        return 0;
      }
      if (rest.includes('--help') || rest.includes('-h')) {
        ctx.print(MAIN_HELP);
        return 0;
      }
      if (rest.length === 0) {
        io.stderr.write(MAIN_HELP);
        return 2;
      }
      const unknown = rest.find((a) => !(a.replace(/^--?/, '').split('=')[0] in GLOBAL_OPTIONS) && a !== '-v' && a !== '-h');
      throw new UsageError(unknown ? `unknown option '${unknown}'` : 'missing command (inspect, train, evaluate, predict, explain)');
    }
    if (command === 'help') {
      const topic = rest.find((a) => !a.startsWith('-'));
      ctx.print(topic && COMMANDS[topic] ? COMMANDS[topic].help : MAIN_HELP);
      return 0;
    }
    const entry = COMMANDS[command];
    if (!entry) throw new UsageError(`unknown command '${command}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
    if (rest.includes('--help') || rest.includes('-h')) {
      ctx.print(entry.help);
      return 0;
    }
    return await entry.run(rest, ctx);
  } catch (e) {
    const usage = e instanceof UsageError;
    const message = e instanceof Error ? e.message : String(e);
    const topic = usage ? (e.command ?? (command !== undefined && command in COMMANDS ? command : undefined)) : undefined;
    const hint = usage ? ` (see 'neurostagenet ${topic ? `${topic} ` : ''}--help')` : '';
    // Errors neurostagenet throws on purpose name the file / row / column; others are bugs or tfjs failures:
    // show their class so a report is useful.
    const prefix = usage || e instanceof NeuroStageNetError ? '' : e instanceof Error && e.name !== 'Error' ? `${e.name}: ` : '';
    io.stderr.write(`neurostagenet: error: ${prefix}${oneLine(message)}${hint}\n`);
    if (verbose && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return usage ? 2 : 1;
  }
}
