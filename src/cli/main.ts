#!/usr/bin/env node
/** The `glasspane` executable (package.json "bin"): runs the program in ./program.ts on argv. */
import { main } from './program.js';

process.exitCode = await main(process.argv);
