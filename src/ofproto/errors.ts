// Flow-text errors: one line saying where and what, e.g.
//   flows.txt:3:17: unknown field 'nw_scr'
// `column` is 1-based and points at the offending token.

export class ParseError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly file: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${file}:${line}:${column}: ${detail}`);
    this.name = 'ParseError';
  }
}

/** Where a piece of text came from, for error positions. */
export interface TextPos {
  file: string;
  line: number;
  /** 0-based column of the text's first character in its line. */
  col: number;
}

export function fail(pos: TextPos, at: number, code: string, detail: string): never {
  throw new ParseError(code, detail, pos.file, pos.line, pos.col + at + 1);
}

/**
 * Split at top-level commas (not inside parentheses), keeping each piece's
 * offset. With `ws`, white space separates pieces too, as ovs-ofctl's
 * key-value parser has it (fields and actions may be separated by commas
 * and/or spaces and tabs).
 */
export function splitTopLevel(text: string, pos: TextPos, base = 0, ws = false): { text: string; at: number }[] {
  const out: { text: string; at: number }[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth < 0) fail(pos, base + i, 'EPAREN', "unbalanced parentheses: ')' without '('");
    } else if (((c === ',' || (ws && (c === ' ' || c === '\t' || c === '\r'))) && depth === 0) || i === text.length) {
      if (i === text.length && depth > 0 && !ws) break;
      const piece = text.slice(start, i);
      const lead = piece.length - piece.trimStart().length;
      if (piece.trim().length) out.push({ text: piece.trim(), at: base + start + lead });
      start = i + 1;
    }
  }
  // ovs-ofctl's key-value parser lets the end of the text close open parentheses.
  if (depth > 0 && !ws) fail(pos, base + text.lastIndexOf('('), 'EPAREN', "unbalanced parentheses: '(' without ')'");
  return out;
}
