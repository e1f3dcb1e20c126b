// The pidfile doubles as the daemon's lock on its run directory: it is
// created exclusively ('wx'), so of two daemons starting at once only one
// gets it. A pidfile or socket left by a daemon that died is recognised as
// stale (nothing answers on the socket, and the pid is gone or is not an
// swd) and removed.

import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';

export class AlreadyRunningError extends Error {
  readonly code = 'ERUNNING';
  constructor(message: string) {
    super(message);
    this.name = 'AlreadyRunningError';
  }
}

/** True when something accepts connections on the socket. */
export function socketAlive(path: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

export function readPid(pidfile: string): number | null {
  try {
    const n = Number(readFileSync(pidfile, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a live pid looks like an swd (Linux: its command line); unknown elsewhere counts as yes. */
function looksLikeSwd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('swd');
  } catch {
    return !existsSync('/proc/self');
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Refuse when a live daemon owns `socket`/`pidfile`; otherwise clear their
 * stale leftovers. Does not take the lock (see acquirePidfile).
 */
export async function checkNotRunning(paths: { rundir: string; socket: string; pidfile: string }): Promise<void> {
  const pid = readPid(paths.pidfile);
  if (existsSync(paths.socket) && (await socketAlive(paths.socket))) {
    throw new AlreadyRunningError(
      `another swd (pid ${pid ?? '?'}) is already running on ${paths.rundir} (socket ${paths.socket}); stop it first with \`swd stop --rundir ${paths.rundir}\``,
    );
  }
  if (pid !== null && pid !== process.pid && pidAlive(pid) && looksLikeSwd(pid)) {
    throw new AlreadyRunningError(
      `swd pid ${pid} (pidfile ${paths.pidfile}) is running but does not answer on ${paths.socket}; it may be starting or hung — stop it with \`kill ${pid}\``,
    );
  }
}

/** Take the run directory: clear stale files, then create the pidfile exclusively. */
export async function acquirePidfile(paths: { rundir: string; socket: string; pidfile: string }): Promise<void> {
  await checkNotRunning(paths);
  if (existsSync(paths.pidfile)) unlinkQuiet(paths.pidfile);
  try {
    writeFileSync(paths.pidfile, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AlreadyRunningError(`another swd is starting on ${paths.rundir} (pidfile ${paths.pidfile} appeared)`);
    }
    throw new Error(`cannot write pidfile ${paths.pidfile}: ${(e as Error).message}`);
  }
  // We own the run directory now; a socket file here is a dead daemon's.
  if (existsSync(paths.socket)) unlinkQuiet(paths.socket);
}

/** Remove the pidfile if it is still ours. */
export function releasePidfile(pidfile: string): void {
  if (readPid(pidfile) === process.pid) unlinkQuiet(pidfile);
}
