// Command-line parsing for the neurostagenet CLI: subcommand lookup, node:util parseArgs with the global options,
// and typed numeric options. Every command-line mistake becomes a UsageError (exit code 2).
import { existsSync, statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { NeuroStageNetError } from '../errors.js';

/** A mistake in the command line (unknown option, missing argument, bad value): one line, exit code 2. */
export class UsageError extends NeuroStageNetError {
  override name = 'UsageError';
  /** Subcommand whose help the message points to, if any. */
  readonly command?: string;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every subcommand accepts. */
export const GLOBAL_OPTIONS = {
  backend: { type: 'string' },
  out: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** Options that take a value (so the value is not mistaken for the subcommand). */
const VALUE_OPTIONS = new Set(['--backend', '--out']);

/**
 * Finds the subcommand: the first argument that is neither an option nor a global option's value.
 * @returns The subcommand (undefined when none) and the other arguments in order.
 */
export function splitCommand(argv: readonly string[]): { command?: string; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return { command: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { rest: [...argv] };
}

/** Parsed values: strings and booleans by option name. */
export type Values = Record<string, string | boolean | undefined>;

/**
 * node:util parseArgs (strict) with the global options added; its errors become UsageErrors.
 * @param command Subcommand (for messages).
 * @param args Arguments without the subcommand.
 * @param options The subcommand's own options.
 */
export function parseCommand(command: string, args: readonly string[], options: Options): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      // parseArgs' messages carry a long hint about '--' after the first sentence: keep the first sentence.
      throw new UsageError((e as Error).message.split('. ')[0].replace(/\.$/, ''), command);
    }
    throw e;
  }
}

/** A string option's value, or `fallback`. */
export function stringOption(values: Values, name: string, fallback?: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : fallback;
}

/**
 * A numeric option's value, or `fallback` when absent.
 * @throws UsageError when it is not a number (an integer when `integer`) within `[min, max]`.
 */
export function numberOption(
  values: Values,
  name: string,
  fallback: number,
  { integer = false, min = -Infinity, max = Infinity, exclusiveMin = false }: { integer?: boolean; min?: number; max?: number; exclusiveMin?: boolean } = {},
  command?: string,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const kind = integer ? 'an integer' : 'a number';
  const low = exclusiveMin ? v <= min : v < min;
  if (raw === '' || typeof raw !== 'string' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || low || v > max) {
    const range = Number.isFinite(min) || Number.isFinite(max)
      ? ` ${Number.isFinite(max) ? `in ${exclusiveMin ? '(' : '['}${min}, ${max}]` : `${exclusiveMin ? '>' : '>='} ${min}`}`
      : '';
    throw new UsageError(`--${name} expects ${kind}${range}, got '${String(raw)}'`, command);
  }
  return v;
}

/**
 * A comma-separated list of non-negative integers (e.g. `--rows 0,5,9`).
 * @throws UsageError for anything else.
 */
export function intListOption(values: Values, name: string, command?: string): number[] | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const parts = String(raw).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const nums = parts.map(Number);
  if (parts.length === 0 || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new UsageError(`--${name} expects comma-separated row numbers like 0,5,9, got '${String(raw)}'`, command);
  }
  return nums;
}

/**
 * Checks that an input path exists (a missing input is a command-line mistake, exit 2).
 * @throws UsageError naming the path.
 */
export function requireExistingPath(path: string, what: string, command?: string): string {
  if (!existsSync(path)) throw new UsageError(`${what} '${path}' does not exist`, command);
  return path;
}

/**
 * Checks that an input file exists and is not a directory (both command-line mistakes, exit 2).
 * @param kind What to give instead of a directory, e.g. 'a Parquet file'.
 * @throws UsageError naming the path.
 */
export function requireInputFile(path: string, command?: string, kind = 'a Parquet file or an image file'): string {
  requireExistingPath(path, 'file', command);
  let directory = false;
  try {
    directory = statSync(path).isDirectory();
  } catch {
    // unreadable: the reader reports it
  }
  if (directory) throw new UsageError(`'${path}' is a directory: give ${kind}`, command);
  return path;
}

/**
 * Checks the number of positional arguments.
 * @throws UsageError naming what is missing or extra.
 */
export function expectPositionals(positionals: readonly string[], min: number, max: number, usage: string, command: string): void {
  if (positionals.length < min) throw new UsageError(`missing argument: usage: neurostagenet ${usage}`, command);
  if (positionals.length > max) throw new UsageError(`unexpected argument '${positionals[max]}': usage: neurostagenet ${usage}`, command);
}
