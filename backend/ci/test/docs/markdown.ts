/**
 * Reading the operator documents the way a reader does: fenced blocks with
 * the marker comment before them, links, and the anchors GitHub makes from
 * headings. Shared by the doc tests.
 *
 * The convention for fenced blocks (docs/CI_App_README.md, "How these
 * documents are checked"):
 *   - a block in a shell language (sh, bash, shell, console, powershell, ps1,
 *     pwsh, bat, cmd) is a *command block*; every one needs a marker comment
 *     on the line before it (blank lines between are allowed):
 *       <!-- test: <scenario> -->  run by a doc test, in document order with
 *                                  the other blocks of that scenario;
 *       <!-- windows-only -->      runs on the Windows Jenkins server or on
 *                                  DevTest (powershell / bat / cmd blocks only);
 *       <!-- docker-only -->       needs Docker; checked statically;
 *   - any other block must name its language (text, json, …).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console', 'powershell', 'ps1', 'pwsh', 'bat', 'cmd']);
export const WINDOWS_LANGS = new Set(['powershell', 'ps1', 'pwsh', 'bat', 'cmd']);

export type Marker = { kind: 'test'; scenario: string } | { kind: 'windows-only' } | { kind: 'docker-only' } | { kind: 'other'; text: string } | null;

export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  body: string;
  marker: Marker;
}

export function readDoc(rel: string): string {
  return readFileSync(path.join(REPO_ROOT, rel), 'utf8');
}

function parseMarker(comment: string): Marker {
  const t = comment.trim();
  const test = /^test:\s*([a-z0-9-]+)$/.exec(t);
  if (test) return { kind: 'test', scenario: test[1]! };
  if (t === 'windows-only') return { kind: 'windows-only' };
  if (t === 'docker-only') return { kind: 'docker-only' };
  return { kind: 'other', text: t };
}

/** Fenced blocks (``` or ~~~, top level or indented in a list), each with the marker comment before it. */
export function fencedBlocks(rel: string, text = readDoc(rel)): Block[] {
  const lines = text.split(/\r?\n/);
  const out: Block[] = [];
  let lastComment: { text: string; line: number } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(line);
    if (open) {
      const [, indent, fence, lang] = open;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const l = lines[j]!;
        if (l.trim().startsWith(fence!) && l.trim().replace(/[`~]/g, '') === '') break;
        body.push(l.startsWith(indent!) ? l.slice(indent!.length) : l.trimStart());
      }
      out.push({ file: rel, line: i + 1, lang: (lang ?? '').toLowerCase(), body: body.join('\n'), marker: lastComment ? parseMarker(lastComment.text) : null });
      lastComment = null;
      i = j;
      continue;
    }
    const comment = /^\s*<!--(.*)-->\s*$/.exec(line);
    if (comment) lastComment = { text: comment[1]!, line: i + 1 };
    else if (line.trim() !== '') lastComment = null;
  }
  return out;
}

/** The text outside fenced blocks and inline code, for links and prose checks. */
export function proseOf(text: string): string {
  const lines = text.split(/\r?\n/);
  let inFence: string | null = null;
  return lines
    .map((l) => {
      const f = /^\s*(`{3,}|~{3,})/.exec(l);
      if (f) {
        if (!inFence) inFence = f[1]!;
        else if (l.trim().startsWith(inFence)) inFence = null;
        return '';
      }
      return inFence ? '' : l;
    })
    .join('\n');
}

export interface Link {
  file: string;
  line: number;
  target: string;
}

/** Inline links and images `[text](target)` outside code, one entry per link. */
export function links(rel: string, text = readDoc(rel)): Link[] {
  const out: Link[] = [];
  const prose = proseOf(text).split('\n');
  prose.forEach((l, i) => {
    const noCode = l.replace(/`[^`]*`/g, (m) => ' '.repeat(m.length));
    for (const m of noCode.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ file: rel, line: i + 1, target: m[1]! });
  });
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, duplicates numbered. */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const l of proseOf(text).split('\n')) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (!h) continue;
    const plain = h[1]!
      .replace(/`([^`]*)`/g, '$1')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '');
    const base = plain
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  // Explicit anchors: <a id="x"></a> / <a name="x">.
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}
