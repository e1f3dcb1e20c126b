// A big flow file parsed in slices, so that it does not hold the control
// thread's event loop: lines are parsed a few at a time, and once a slice
// has taken SLICE_MS the loop gets a turn (setImmediate) before the next
// one, so other clients' requests wait at most about one slice.
//
// What must stay true:
// - The result is the one parseFlowModFile gives for the whole text: the
//   same lines, the same numbers, and the same first error (a ParseError
//   with the position in the whole file).
// - Port names resolve against the bridge's ports as they were when parsing
//   began (one map for every slice).
// - Nothing here applies anything: the caller checks and applies the lines
//   in one synchronous step afterwards (flow-commands.ts), so a file is still
//   all or nothing, and ordering against other requests on the bridge is the
//   caller's (ctl/methods.ts runs one bridge's requests one after another).

import { ParseError } from './errors.ts';
import { withPortNames } from './field-text.ts';
import { parseFlowModFile, type FlowModLine } from './parse-flow.ts';

/** How long one slice may hold the loop. */
export const SLICE_MS = 4;
/** Lines parsed between two looks at the clock. */
const SLICE_LINES = 32;
/** Texts up to this size are parsed in one go (a few milliseconds at most). */
export const SMALL_TEXT = 32 * 1024;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * parseFlowModFile(text, file) for a bridge whose port names resolve
 * to `ports`, in slices of about `sliceMs`, yielding to the event loop
 * between them. Unchecked: see checkFlowModLines (flow-commands.ts).
 */
export async function parseFlowModSliced(ports: ReadonlyMap<string, number>, text: string, file: string,
  sliceMs = SLICE_MS): Promise<FlowModLine[]> {
  const parse = (t: string) => withPortNames(ports, () => parseFlowModFile(t, file), true);
  if (text.length <= SMALL_TEXT) return parse(text);
  const lines = text.split('\n');
  const out: FlowModLine[] = [];
  let sliceStart = performance.now();
  for (let first = 0; first < lines.length; first += SLICE_LINES) {
    let got: FlowModLine[];
    try {
      got = parse(lines.slice(first, first + SLICE_LINES).join('\n'));
    } catch (e) {
      if (e instanceof ParseError) throw new ParseError(e.code, e.detail, e.file, e.line + first, e.column);
      throw e;
    }
    for (const l of got) {
      l.line += first;
      out.push(l);
    }
    if (performance.now() - sliceStart >= sliceMs) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
  }
  return out;
}
