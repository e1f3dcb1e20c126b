// Types of launch.js for the TypeScript that imports it (tests, scripts).
export type SourceEntry = [path: string, mtimeMs: number, size: number];
export const ROOT: string;
export const MANIFEST: string;
export function snapshot(root?: string): SourceEntry[];
export const SETTLE_MS: number;
export function buildSnapshot(root?: string): SourceEntry[];
export function writeManifest(inputs: SourceEntry[], root?: string): void;
export function isFresh(root?: string): boolean;
export function load(name: string): Promise<{ main(argv?: string[]): Promise<void> }>;
