// A fabric run with extra environment for the processes it starts, so that
// one build can be measured old against new in the same run: a word
// "swd (1 PMD thread), ACL [SWD_RX_RING_FRAMES=256]" on the bench's command
// line picks the fabric whose label contains the part before the brackets
// and starts it with the NAME=VALUE pairs inside them (space-separated).

import type { Fabric } from './fabrics.ts';

export function withEnv(f: Fabric, env: Record<string, string>): Fabric {
  const tag = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
  return {
    label: `${f.label} [${tag}]`,
    acl: f.acl,
    async build(topo) {
      const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      try {
        return await f.build(topo);
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    },
  };
}

/** `word [A=1 B=2]` -> the word and the environment (null when the word has no brackets). */
export function splitEnvWord(word: string): { word: string; env: Record<string, string> | null } {
  const m = /^(.*?)\s*\[(.*)\]$/.exec(word);
  if (!m) return { word, env: null };
  const env = Object.fromEntries(
    m[2]!.split(/\s+/).filter(Boolean).map((kv) => {
      const i = kv.indexOf('=');
      return i < 0 ? [kv, '1'] : [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
  return { word: m[1]!, env };
}
