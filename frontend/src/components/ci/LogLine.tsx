/**
 * One log line: ANSI colours become class names on <span>s, search matches
 * become <mark>s, and the text itself is only ever a React text child — a
 * line that says <script> shows those characters and creates nothing.
 */
import { memo, type ReactNode } from 'react';
import { parseAnsi } from '../../lib/ansi.js';

function highlight(text: string, queryLower: string, keyBase: string) {
  if (!queryLower) return text;
  const lower = text.toLowerCase();
  const parts: ReactNode[] = [];
  let from = 0;
  let at = lower.indexOf(queryLower, from);
  if (at < 0) return text;
  while (at >= 0) {
    if (at > from) parts.push(text.slice(from, at));
    parts.push(
      <mark key={`${keyBase}-${at}`} className="log-match">
        {text.slice(at, at + queryLower.length)}
      </mark>,
    );
    from = at + queryLower.length;
    at = lower.indexOf(queryLower, from);
  }
  if (from < text.length) parts.push(text.slice(from));
  return parts;
}

export const LogText = memo(function LogText({ text, query = '' }: { text: string; query?: string }) {
  const q = query.trim().toLowerCase();
  return (
    <>
      {parseAnsi(text).map((seg, i) =>
        seg.className ? (
          <span key={i} className={seg.className}>
            {highlight(seg.text, q, String(i))}
          </span>
        ) : (
          <span key={i}>{highlight(seg.text, q, String(i))}</span>
        ),
      )}
    </>
  );
});
