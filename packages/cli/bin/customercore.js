#!/usr/bin/env node
// The `customercore` command. It runs the TypeScript source through tsx (a dependency of this
// package), so it works straight after `npm install`, with no build step.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
