#!/usr/bin/env node
/** The `athens-sync` bin: the only place that exits the process. */
import { processIo, run } from "./cli";

run(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`athens-sync: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
