#!/usr/bin/env node
// Entry point of the `neurostagenet` command (built to dist/cli.js; bin/neurostagenet.mjs runs it).
import { runCli } from './run.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // runCli never throws; this is a last resort.
    process.stderr.write(`neurostagenet: error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
