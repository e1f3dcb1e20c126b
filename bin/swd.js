#!/usr/bin/env node
// swd: compiled (dist/) when fresh, else from the TypeScript sources; see launch.js.
import { load } from './launch.js';

const { main } = await load('swd-main');
await main();
