#!/usr/bin/env node
// swctl: compiled (dist/) when fresh, else from the TypeScript sources; see launch.js.
import { load } from './launch.js';

const { main } = await load('swctl-main');
await main();
