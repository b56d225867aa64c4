/**
 * Turns Jenkins console text into stage-attributed lines (DESIGN §3 "Log lines").
 *
 * - Lines our scripts print start with `[<stage id>] `: that marker wins.
 * - Jenkins' own `[Pipeline] { (<stage name>)` (and `(Branch: <name>)` inside a
 *   `parallel`) switch the current stage; unmarked lines belong to it.
 * - `Stage "<name>" skipped due to when conditional` belongs to that stage.
 * - A Timestamper prefix (`[2026-12-04T10:00:00.000Z] ` or `10:00:00 `) is ignored
 *   for detection but kept in the text.
 */
import { CONTRACT_STAGES, STAGE_IDS, type StageId } from '../models.js';

const ID_SET = new Set<string>(STAGE_IDS);
const NAME_TO_ID = new Map<string, StageId>();
for (const s of CONTRACT_STAGES) for (const n of s.jenkins) NAME_TO_ID.set(n, s.id);

const TIMESTAMP = /^(?:\[\d{4}-\d{2}-\d{2}T[\d:.]+Z?\] |\d{2}:\d{2}:\d{2}(?:\.\d+)? )/;
const MARKER = /^\[([a-z0-9]+)\] ?/;
const STAGE_OPEN = /^\[Pipeline\] \{ \((?:Branch: )?(.+)\)\s*$/;
const SKIPPED = /^Stage "(.+)" skipped due to /;

/** Longest line we store; longer ones are cut with a note (a minified blob in a log helps nobody). */
export const MAX_LINE_CHARS = 16_384;

export interface ParsedLine {
  stage: StageId;
  text: string;
}

export interface ParseState {
  pending: string;
  stage: StageId;
}

export interface ParsedChunk {
  lines: ParsedLine[];
  state: ParseState;
  /**
   * The text the lines were cut from and where each line's part starts in it: line i is a
   * substring of it (markers and CRs come off, nothing is added but a "line cut" note), so the
   * redactor can scan this text once instead of joining the lines again.
   */
  source: { text: string; starts: number[] };
}

/** Splits `chunk` (appended to the pending partial line) into complete lines. */
export function parseConsoleChunk(state: ParseState, chunk: string, final: boolean): ParsedChunk {
  const text = state.pending + chunk;
  const parts = text.split('\n');
  const starts = new Array<number>(parts.length);
  for (let i = 0, at = 0; i < parts.length; i++) {
    starts[i] = at;
    at += parts[i]!.length + 1;
  }
  let pending = parts.pop() ?? '';
  // A line with no end yet can only ever be stored cut at MAX_LINE_CHARS: keep enough of it to cut
  // it the same way (markers and timestamps come off first), not the megabytes a runaway line has.
  if (pending.length > 2 * MAX_LINE_CHARS) pending = pending.slice(0, 2 * MAX_LINE_CHARS);
  if (final && pending.length) {
    parts.push(pending);
    pending = '';
  }
  let stage = state.stage;
  const lines: ParsedLine[] = [];
  for (let raw of parts) {
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    // Cheap first-character checks before any regex: most lines are none of these (a long log is
    // hundreds of thousands of lines).
    const c0 = raw.charCodeAt(0);
    const body = c0 === 91 /* [ */ || (c0 >= 48 && c0 <= 57) ? raw.replace(TIMESTAMP, '') : raw;
    const b0 = body.charCodeAt(0);
    let lineStage = stage;
    let out = raw;
    const open = b0 === 91 ? STAGE_OPEN.exec(body) : null;
    const skipped = b0 === 83 /* S */ && !open ? SKIPPED.exec(body) : null;
    const marker = b0 === 91 && !open ? MARKER.exec(body) : null;
    if (open) {
      const id = NAME_TO_ID.get(open[1]!);
      if (id) stage = lineStage = id;
      else if (open[1] === 'Declarative: Post Actions') stage = lineStage = 'report';
    } else if (skipped) {
      lineStage = NAME_TO_ID.get(skipped[1]!) ?? stage;
    } else if (marker && ID_SET.has(marker[1]!)) {
      lineStage = marker[1] as StageId;
      out = body.slice(marker[0].length);
    }
    if (out.length > MAX_LINE_CHARS) out = `${out.slice(0, MAX_LINE_CHARS)} … [line cut at ${MAX_LINE_CHARS} characters]`;
    lines.push({ stage: lineStage, text: out });
  }
  return { lines, state: { pending, stage }, source: { text, starts } };
}
