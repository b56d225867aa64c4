/**
 * ANSI SGR parsing for log lines. Escape codes become CSS class names
 * (ansi-fg-1, ansi-bold…), never inline styles or markup: the caller renders
 * each segment's text as a text node inside a <span className=…>, so nothing
 * in a log line can create an element. Non-SGR escape sequences (cursor
 * moves, OSC titles) are dropped.
 */
export interface AnsiSegment {
  text: string;
  /** Space-separated class names, '' for plain text. */
  className: string;
}

interface SgrState {
  fg: number | null;
  bg: number | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

const plain = (): SgrState => ({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });

function classOf(s: SgrState): string {
  const c: string[] = [];
  if (s.fg !== null) c.push(`ansi-fg-${s.fg}`);
  if (s.bg !== null) c.push(`ansi-bg-${s.bg}`);
  if (s.bold) c.push('ansi-bold');
  if (s.dim) c.push('ansi-dim');
  if (s.italic) c.push('ansi-italic');
  if (s.underline) c.push('ansi-underline');
  return c.join(' ');
}

function applySgr(s: SgrState, params: number[]): void {
  if (params.length === 0) params = [0];
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!;
    if (p === 0) Object.assign(s, plain());
    else if (p === 1) s.bold = true;
    else if (p === 2) s.dim = true;
    else if (p === 3) s.italic = true;
    else if (p === 4) s.underline = true;
    else if (p === 22) s.bold = s.dim = false;
    else if (p === 23) s.italic = false;
    else if (p === 24) s.underline = false;
    else if (p >= 30 && p <= 37) s.fg = p - 30;
    else if (p === 39) s.fg = null;
    else if (p >= 40 && p <= 47) s.bg = p - 40;
    else if (p === 49) s.bg = null;
    else if (p >= 90 && p <= 97) s.fg = p - 90 + 8;
    else if (p >= 100 && p <= 107) s.bg = p - 100 + 8;
    else if (p === 38 || p === 48) {
      // 38;5;n (256 colours: the first 16 map to our palette, others are dropped) or 38;2;r;g;b (dropped).
      const mode = params[i + 1];
      if (mode === 5) {
        const n = params[i + 2];
        if (n !== undefined && n < 16) {
          if (p === 38) s.fg = n;
          else s.bg = n;
        }
        i += 2;
      } else if (mode === 2) i += 4;
    }
  }
}

// CSI: ESC [ params intermediate final; OSC: ESC ] … BEL or ESC \ ; other two-byte escapes.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\u001b\[([0-9;:?]*)([ -/]*)([@-~])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

export function parseAnsi(line: string): AnsiSegment[] {
  if (!line.includes('\u001b')) return line ? [{ text: line, className: '' }] : [];
  const out: AnsiSegment[] = [];
  const state = plain();
  let last = 0;
  const push = (text: string) => {
    if (!text) return;
    const className = classOf(state);
    const prev = out[out.length - 1];
    if (prev && prev.className === className) prev.text += text;
    else out.push({ text, className });
  };
  for (const m of line.matchAll(ESCAPE)) {
    push(line.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[3] === 'm' && !m[2]) {
      const params = (m[1] ?? '').split(/[;:]/).filter((x) => x !== '').map(Number).filter(Number.isFinite);
      applySgr(state, params);
    }
  }
  push(line.slice(last));
  return out;
}

/** The text a reader sees (escape codes removed), for search. */
export function stripAnsi(line: string): string {
  return line.includes('\u001b') ? line.replace(ESCAPE, '') : line;
}
