/**
 * The human summary (summary.md) in a tiny, safe Markdown subset: headings,
 * paragraphs, "-" lists, pipe tables, **bold**, `code` and links whose target
 * is a relative path or http(s). Everything becomes React elements with text
 * children: there is no HTML parsing, so markup in the text stays text.
 */
import { Fragment, type ReactNode } from 'react';

type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'para'; lines: string[] }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; head: string[]; rows: string[][] };

const SEPARATOR_ROW = /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;

/** Splits "| a | b \| c |" into ["a", "b | c"]. */
function cells(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  const body = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '\\' && body[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (ch === '|') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

export function parseBlocks(md: string): Block[] {
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (!line.trim()) {
      i++;
    } else if (heading) {
      blocks.push({ kind: 'heading', level: heading[1]!.length, text: heading[2]!.trim() });
      i++;
    } else if (line.trim().startsWith('|') && i + 1 < lines.length && SEPARATOR_ROW.test(lines[i + 1]!.trim())) {
      const head = cells(line);
      const rows: string[][] = [];
      i += 2;
      while (i < lines.length && lines[i]!.trim().startsWith('|')) rows.push(cells(lines[i++]!));
      blocks.push({ kind: 'table', head, rows });
    } else if (/^\s*[-*]\s+/.test(line)) {
      const items: string[] = [];
      while (i < lines.length && /^\s*[-*]\s+/.test(lines[i]!)) items.push(lines[i++]!.replace(/^\s*[-*]\s+/, ''));
      blocks.push({ kind: 'list', items });
    } else {
      const para: string[] = [];
      while (i < lines.length && lines[i]!.trim() && !/^#{1,6}\s/.test(lines[i]!) && !/^\s*[-*]\s+/.test(lines[i]!) && !lines[i]!.trim().startsWith('|')) para.push(lines[i++]!);
      if (para.length === 0) para.push(lines[i++]!); // a lone "|" line that is not a table
      blocks.push({ kind: 'para', lines: para });
    }
  }
  return blocks;
}

const SAFE_HREF = /^(\/(?!\/)|https?:\/\/)/i;
const INLINE = /\*\*(.+?)\*\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)/g;

/** Backslash escapes (\_ \* \\ …) become the character itself. */
const unescape = (s: string) => s.replace(/\\([\\`*_{}[\]()#+\-.!|<>~])/g, '$1');

export function renderInline(text: string, keyBase = 'i'): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let n = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(unescape(text.slice(last, m.index)));
    const key = `${keyBase}-${n++}`;
    if (m[1] !== undefined) out.push(<strong key={key}>{renderInline(m[1], key)}</strong>);
    else if (m[2] !== undefined) out.push(<code key={key}>{m[2]}</code>);
    else if (m[3] !== undefined && m[4] !== undefined) {
      const href = unescape(m[4]);
      out.push(
        SAFE_HREF.test(href) ? (
          <a key={key} href={href} target="_blank" rel="noopener noreferrer">
            {unescape(m[3])}
          </a>
        ) : (
          <Fragment key={key}>{unescape(`${m[3]} (${m[4]})`)}</Fragment>
        ),
      );
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(unescape(text.slice(last)));
  return out;
}

/** `baseLevel` is the HTML heading level the document's top heading gets (below the section's own heading). */
export function SummaryMarkdown({ text, baseLevel = 4 }: { text: string; baseLevel?: number }) {
  const blocks = parseBlocks(text);
  const top = Math.min(6, ...blocks.filter((b) => b.kind === 'heading').map((b) => (b as { level: number }).level));
  return (
    <div className="summary-md" data-testid="summary-md" tabIndex={0} role="region" aria-label="Run summary">
      {blocks.map((b, i) => {
        const key = `b${i}`;
        switch (b.kind) {
          case 'heading': {
            const level = Math.min(6, baseLevel + (b.level - top));
            const H = `h${level}` as 'h4';
            return <H key={key}>{renderInline(b.text, key)}</H>;
          }
          case 'para':
            return (
              <p key={key}>
                {b.lines.map((l, j) => (
                  <Fragment key={j}>
                    {j > 0 ? <br /> : null}
                    {renderInline(l, `${key}-${j}`)}
                  </Fragment>
                ))}
              </p>
            );
          case 'list':
            return (
              <ul key={key}>
                {b.items.map((it, j) => (
                  <li key={j}>{renderInline(it, `${key}-${j}`)}</li>
                ))}
              </ul>
            );
          case 'table':
            return (
              <div key={key} className="table-wrap">
                <table className="mini-table">
                  <thead>
                    <tr>
                      {b.head.map((h, j) => (
                        <th key={j} scope="col">
                          {renderInline(h, `${key}-h${j}`)}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {b.rows.map((r, j) => (
                      <tr key={j}>
                        {r.map((c, k) => (
                          <td key={k}>{renderInline(c, `${key}-${j}-${k}`)}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
        }
      })}
    </div>
  );
}
