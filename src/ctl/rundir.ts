// Where swd keeps its socket, pidfile and database, and how swctl finds them:
// --rundir, else $SWD_RUNDIR, else /run/swd when root, else
// $XDG_RUNTIME_DIR/swd, else /tmp/swd-<uid>. swctl: --socket, else
// $SWD_SOCKET, else <rundir>/swd.sock.
//
// The run directory holds an owner-only socket; in a shared place such as
// /tmp someone else could create it first, so swd refuses a run directory
// owned by another user.

import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SOCKET_NAME = 'swd.sock';
export const PIDFILE_NAME = 'swd.pid';
export const DB_NAME = 'swd.db.json';
export const LOG_NAME = 'swd.log';

export function resolveRundir(opt: string | undefined, env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (opt) return opt;
  if (env.SWD_RUNDIR) return env.SWD_RUNDIR;
  if (uid === 0) return '/run/swd';
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'swd');
  return `/tmp/swd-${uid}`;
}

/** swctl's socket: --socket, else $SWD_SOCKET, else the rundir's. */
export function resolveSocket(opt: string | undefined, rundir: string | undefined, env: NodeJS.ProcessEnv = process.env, uid?: number): string {
  if (opt) return opt;
  if (env.SWD_SOCKET) return env.SWD_SOCKET;
  return join(resolveRundir(rundir, env, uid), SOCKET_NAME);
}

export interface RunPaths {
  rundir: string;
  socket: string;
  pidfile: string;
  db: string;
}

/** The daemon's files: socket and pidfile in the rundir unless given, db default `<rundir>/swd.db.json`. */
export function runPaths(
  o: { rundir?: string; pidfile?: string; db?: string },
  env: NodeJS.ProcessEnv = process.env,
  uid?: number,
): RunPaths {
  const rundir = resolveRundir(o.rundir, env, uid);
  return {
    rundir,
    socket: join(rundir, SOCKET_NAME),
    pidfile: o.pidfile ?? join(rundir, PIDFILE_NAME),
    db: o.db ?? join(rundir, DB_NAME),
  };
}

export class RundirError extends Error {
  readonly code = 'ERUNDIR';
}

/** Create the run directory (0700) if needed; refuse one that is not ours. */
export function ensureRundir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new RundirError(`cannot create run directory ${dir}: ${(e as Error).message}`);
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new RundirError(`run directory ${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && uid !== 0) {
    throw new RundirError(`run directory ${dir} belongs to uid ${st.uid}, not to you (uid ${uid}); choose another with --rundir`);
  }
}
