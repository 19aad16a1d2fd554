/** Small timing helpers shared by the bench scripts. */

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Peak resident set size of this process so far, in MiB (Node reports maxRSS in KiB). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Runs `step` `warmup` times untimed, then `steps` times timed; returns the wall times in ms. */
export async function timeSteps(step: () => Promise<void> | void, warmup: number, steps: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  return times;
}

/** Parses `--key=value` / `--key value` / `--flag` arguments into a map (values stay strings). */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}' (flags look like --name=value)`);
    const eq = a.indexOf('=');
    if (eq > 0) {
      out.set(a.slice(2, eq), a.slice(eq + 1));
    } else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
      out.set(a.slice(2), argv[++i]!);
    } else {
      out.set(a.slice(2), 'true');
    }
  }
  return out;
}
