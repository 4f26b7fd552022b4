#!/usr/bin/env node
// The `pyhost` command. Runs the compiled CLI (dist/, made by `npm install` / `npm run build:ts`).
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
});
