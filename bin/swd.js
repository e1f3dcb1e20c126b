#!/usr/bin/env node
// Runs swd straight from the TypeScript sources (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/ctl/swd-main.ts');
await main();
