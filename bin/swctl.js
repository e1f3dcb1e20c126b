#!/usr/bin/env node
// Runs swctl straight from the TypeScript sources (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/ctl/swctl-main.ts');
await main();
