// Conntrack across a restart, as the switch sees it: restore the save file
// (if any) into the datapath's table before the first port opens, save it
// when the daemon stops (or on `swctl ct-save`), and remember how both
// went for `swctl ct-save-show` and the log. The file format and the table
// work are src/conntrack/save*.ts.

import type { Conntrack } from '../conntrack/conntrack.ts';
import { restoreConntrackFile, saveConntrackFile, saveConntrackFileAsync, type RestoreOutcome, type SaveFileResult } from '../conntrack/save-file.ts';
import { SwitchError } from './api.ts';

type Log = { info: (...a: unknown[]) => void; warn: (...a: unknown[]) => void; error: (...a: unknown[]) => void };

export type LastSave = ({ status: 'saved' } & SaveFileResult) | { status: 'failed'; file: string; code: string; error: string };

export class CtSave {
  restore: RestoreOutcome | null = null;
  last: LastSave | null = null;
  /** Bumped by every save: an async save renames its file only while it is the latest. */
  private generation = 0;
  /** The async saves, one after another. */
  private saving: Promise<unknown> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly ct: Conntrack,
    private readonly now: () => number,
    private readonly log: Log,
  ) {}

  /** Restore the save file into the (still unused) table; never throws. */
  restoreNow(): RestoreOutcome {
    let out: RestoreOutcome;
    try {
      out = restoreConntrackFile(this.ct, this.file, this.now(), { extra: this.ct.saveSections });
    } catch (e) {
      out = { file: this.file, status: 'ignored', code: 'EINVAL', error: (e as Error).message };
    }
    this.restore = out;
    if (out.status === 'restored') {
      const { status: _s, ...fields } = out;
      this.log.info(fields, `conntrack: restored ${out.restored} connections from ${out.file} (${out.expired} expired while stopped, ${Math.round(out.elapsedMs)} ms stopped)`);
    } else if (out.status === 'ignored') {
      this.log.error({ file: out.file, code: out.code }, `conntrack: ignored the saved connection table: ${out.error}`);
    }
    return out;
  }

  /** Save the table now; a failure (a full disk) is reported and changes nothing in the running switch. */
  saveNow(): LastSave {
    this.generation++; // an async save still on its way must not replace this one
    try {
      return this.saved(saveConntrackFile(this.ct, this.file, this.now(), { extra: this.ct.saveSections }));
    } catch (e) {
      return this.failed(e);
    }
  }

  /**
   * `swctl ct-save`: save, and fail the request when the save failed. The
   * write runs off the event loop; two of them never overlap, and one that
   * a later synchronous save (the daemon's stop) overtook is dropped, that
   * save's result standing for it.
   */
  saveCommand(): Promise<{ lines: string[] } & LastSave> {
    const run = async () => {
      const gen = ++this.generation;
      let r: LastSave;
      try {
        const res = await saveConntrackFileAsync(this.ct, this.file, this.now(), { extra: this.ct.saveSections, stillWanted: () => this.generation === gen });
        r = res === null ? this.last! : this.saved(res);
      } catch (e) {
        r = this.failed(e);
      }
      if (r.status === 'failed') throw new SwitchError(r.code, r.error);
      return { ...r, lines: [`saved ${r.conns} connections to ${r.file} (${r.bytes} bytes)`] };
    };
    const p = this.saving.then(run);
    this.saving = p.catch(() => {});
    return p;
  }

  private saved(r: SaveFileResult): LastSave {
    this.last = { status: 'saved', ...r };
    this.log.info({ file: r.file, conns: r.conns, bytes: r.bytes, ms: Math.round(r.ms) }, `conntrack: saved ${r.conns} connections to ${r.file}`);
    return this.last;
  }

  private failed(e: unknown): LastSave {
    const code = (e as { code?: string }).code ?? 'EIO';
    this.last = { status: 'failed', file: this.file, code, error: (e as Error).message };
    this.log.error({ file: this.file, code }, `conntrack: ${(e as Error).message}`);
    return this.last;
  }

  /** `swctl ct-save-show`: how the last restore and save went. */
  show(): { file: string; restore: RestoreOutcome | null; lastSave: LastSave | null; lines: string[] } {
    const lines = [`file: ${this.file}`];
    const r = this.restore;
    if (r === null || r.status === 'none') lines.push('restore: nothing to restore at start');
    else if (r.status === 'restored') {
      lines.push(`restore: ${r.restored} connections restored, ${r.expired} expired while stopped (stopped ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.bytes} bytes, ${r.ms.toFixed(1)} ms)`);
      if (r.duplicates + r.noRoom > 0) lines.push(`  not restored: ${r.duplicates} duplicates, ${r.noRoom} for want of room`);
      if (r.skippedSections.length > 0) lines.push(`  unknown sections skipped: ${r.skippedSections.join(', ')}`);
    } else lines.push(`restore: ignored (${r.code}): ${r.error}`);
    const s = this.last;
    if (s === null) lines.push('last save: none');
    else if (s.status === 'saved') lines.push(`last save: ${s.conns} connections, ${s.bytes} bytes, ${s.ms.toFixed(1)} ms`);
    else lines.push(`last save: failed (${s.code}): ${s.error}`);
    return { file: this.file, restore: r, lastSave: s, lines };
  }
}
