/**
 * Checks that an HTML test report is whole and is the report it claims to be,
 * and reads the totals it shows, so the `reports` gate can compare them with
 * the JSON/XML beside it. The file is streamed in 64 KiB chunks with a small
 * overlap, so a report of any size costs about 70 KiB of memory.
 *
 * What "the tool's report" means:
 * - htmlextra (newman-reporter-htmlextra): the summary cards "Total Iterations"
 *   and "Total Assertions" that its default template always renders (its
 *   <title> is configurable, so it is not used).
 * - pytest-html (v3 and v4): the "pytest-html" credit line every report
 *   carries, and its summary spans `<span class="passed">N passed</span>` …
 *   A substitute reporter must write the same two things.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export type HtmlReportKind = 'htmlextra' | 'pytest-html';

export interface HtmlInspection {
  file: string;
  kind: HtmlReportKind;
  present: boolean;
  bytes: number;
  /** Ends with </html> (ignoring trailing whitespace). */
  complete: boolean;
  /** The tool's markers were found. */
  tool_report: boolean;
  /** Totals shown in the report (keys depend on the kind; absent when not shown). */
  counts: Record<string, number>;
  /** Null when the report is fine as a file; else why not (missing, empty, truncated, not the tool's report). */
  problem: string | null;
}

interface Probe {
  key: string;
  re: RegExp;
}

const PROBES: Record<HtmlReportKind, { markers: RegExp[]; counts: Probe[]; what: string }> = {
  htmlextra: {
    what: 'a newman-reporter-htmlextra report',
    markers: [/Total Iterations<\/h6>/i, /Total Assertions<\/h6>/i],
    counts: [
      { key: 'requests', re: /Total Requests\s*<span[^>]*>\s*(\d+)\s*</i },
      { key: 'assertions', re: /Total Assertions<\/h6>\s*<h1[^>]*>\s*(\d+)\s*</i },
      { key: 'failed_tests', re: /Total Failed Tests<\/h6>\s*<h1[^>]*>\s*(\d+)\s*</i },
      { key: 'skipped_tests', re: /Total Skipped Tests<\/h6>\s*<h1[^>]*>\s*(\d+)\s*</i },
    ],
  },
  'pytest-html': {
    what: 'a pytest-html report',
    markers: [/pytest-html/i, /<span class="(?:passed|failed)">\s*\d+/i],
    counts: ['passed', 'failed', 'skipped', 'error', 'xfailed', 'xpassed'].map((k) => ({
      key: k === 'error' ? 'errors' : k,
      re: new RegExp(`<span class="${k}">\\s*(\\d+)\\s`, 'i'),
    })),
  },
};

const CHUNK = 64 * 1024;
const OVERLAP = 2048;

export async function inspectHtmlReport(file: string, kind: HtmlReportKind): Promise<HtmlInspection> {
  const spec = PROBES[kind];
  const base: HtmlInspection = { file, kind, present: false, bytes: 0, complete: false, tool_report: false, counts: {}, problem: null };
  let bytes: number;
  try {
    bytes = (await stat(file)).size;
  } catch {
    return { ...base, problem: 'is missing' };
  }
  if (bytes === 0) return { ...base, present: true, problem: 'is empty (0 bytes)' };

  const markersSeen = new Set<number>();
  const counts: Record<string, number> = {};
  let carry = '';
  let tail = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK }) as AsyncIterable<string>) {
    const window = carry + chunk;
    spec.markers.forEach((re, i) => {
      if (!markersSeen.has(i) && re.test(window)) markersSeen.add(i);
    });
    for (const p of spec.counts) {
      if (p.key in counts) continue;
      const m = p.re.exec(window);
      if (m) counts[p.key] = Number(m[1]);
    }
    carry = window.slice(-OVERLAP);
    tail = (tail + chunk).slice(-256);
  }
  const complete = /<\/html>\s*$/i.test(tail);
  const toolReport = markersSeen.size === spec.markers.length;
  const problem = !complete
    ? `is truncated (${bytes} bytes, no closing </html>)`
    : !toolReport
      ? `is not ${spec.what} (its markers are missing)`
      : null;
  return { ...base, present: true, bytes, complete, tool_report: toolReport, counts, problem };
}
