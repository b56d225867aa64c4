/**
 * The log lines of one run, grouped by stage, in a shape a virtual list can
 * index without copying: 100 000 lines stay one array per stage, and a row
 * index maps to (section, line) through per-section offsets (≤ 13 sections).
 */
import type { StageId } from '../api/types.js';
import { stripAnsi } from './ansi.js';

export interface LogEntry {
  seq: number;
  stage: StageId;
  text: string;
  ts: string;
  /** Escape-free lower-cased text, computed once, for search. */
  plainLower: string;
}

export interface LogSection {
  stage: StageId;
  lines: LogEntry[];
}

export type LogRow =
  | { kind: 'header'; section: LogSection; sectionIndex: number }
  | { kind: 'line'; section: LogSection; entry: LogEntry; lineIndex: number };

export class LogStore {
  readonly sections: LogSection[] = [];
  private readonly byStage = new Map<StageId, LogSection>();
  lastSeq = 0;
  total = 0;

  /** Appends a line; returns false for a seq already stored (a resumed stream never duplicates). */
  append(line: { seq: number; stage: StageId; text: string; ts: string }): boolean {
    if (line.seq <= this.lastSeq) return false;
    this.lastSeq = line.seq;
    let section = this.byStage.get(line.stage);
    if (!section) {
      section = { stage: line.stage, lines: [] };
      this.byStage.set(line.stage, section);
      this.sections.push(section);
    }
    section.lines.push({ ...line, plainLower: stripAnsi(line.text).toLowerCase() });
    this.total++;
    return true;
  }
}

/** A view of the store with some sections collapsed: row count and row lookup. */
export class LogRowIndex {
  private readonly starts: number[] = [];
  readonly count: number;

  constructor(
    private readonly store: LogStore,
    private readonly collapsed: ReadonlySet<StageId>,
  ) {
    let n = 0;
    for (const s of store.sections) {
      this.starts.push(n);
      n += 1 + (collapsed.has(s.stage) ? 0 : s.lines.length);
    }
    this.count = n;
  }

  row(i: number): LogRow | null {
    // Sections are few: a linear scan from the end is simpler than a binary search and as fast.
    for (let k = this.starts.length - 1; k >= 0; k--) {
      const start = this.starts[k]!;
      if (i >= start) {
        const section = this.store.sections[k]!;
        if (i === start) return { kind: 'header', section, sectionIndex: k };
        const entry = section.lines[i - start - 1];
        return entry ? { kind: 'line', section, entry, lineIndex: i - start - 1 } : null;
      }
    }
    return null;
  }

  /** Row index of a line, or -1 when its section is collapsed. */
  rowOf(stage: StageId, lineIndex: number): number {
    const k = this.store.sections.findIndex((s) => s.stage === stage);
    if (k < 0 || this.collapsed.has(stage)) return -1;
    return this.starts[k]! + 1 + lineIndex;
  }
}

/** Every line containing `query` (case-insensitive), in stream order of sections. */
export function findMatches(store: LogStore, query: string): Array<{ stage: StageId; lineIndex: number }> {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const out: Array<{ stage: StageId; lineIndex: number }> = [];
  for (const s of store.sections) {
    for (let i = 0; i < s.lines.length; i++) if (s.lines[i]!.plainLower.includes(q)) out.push({ stage: s.stage, lineIndex: i });
  }
  return out;
}
