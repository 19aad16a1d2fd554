#!/usr/bin/env node
// The `neurostagenet` command. Runs the built CLI (dist/cli.js); in a git checkout without a build, says how to
// get one (or use `npm run cli -- <command>`, which runs the TypeScript sources with tsx).
try {
  await import('../dist/cli.js');
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('cli.js')) {
    process.stderr.write("neurostagenet: error: the CLI is not built (dist/cli.js is missing): run 'npm run build', or use 'npm run cli -- <command>'\n");
    process.exit(1);
  }
  throw e;
}
