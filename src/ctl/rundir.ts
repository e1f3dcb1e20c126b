// Where swd keeps its socket, pidfile and database, and how swctl finds them:
// --rundir, else $SWD_RUNDIR, else /run/swd when root, else
// $XDG_RUNTIME_DIR/swd, else /tmp/swd-<uid>.

import { join } from 'node:path';

export const SOCKET_NAME = 'swd.sock';
export const PIDFILE_NAME = 'swd.pid';
export const DB_NAME = 'swd.db.json';

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
