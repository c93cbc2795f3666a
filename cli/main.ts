#!/usr/bin/env node
import { run } from "./run.js";

/** The `pixelmill` command: `npm run pixelmill -- …` from sources, dist/cli/main.js once built. */
const code = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
process.exitCode = code;
