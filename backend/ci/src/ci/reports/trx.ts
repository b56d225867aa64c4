/**
 * Visual Studio TRX (what `dotnet test --logger trx` writes), streamed.
 *
 * Counted from the UnitTestResult elements, not from ResultSummary/Counters:
 * the counters are what the logger thought, and they disagree with the
 * results for skipped tests (MSTest's NotExecuted rows are counted nowhere).
 * A data-driven parent (MSTest v2 rows folded under InnerResults) is the sum
 * of its rows, so only the rows are counted.
 *
 * Outcome mapping: Passed, PassedButRunAborted, Warning → passed; Failed,
 * Error, Timeout, Aborted → failed; NotExecuted, Inconclusive, Pending,
 * NotRunnable, Disconnected → skipped (as `dotnet test` prints them).
 */
import { BoundedList, scanXml, TopN } from './xml.js';

export interface TrxResult {
  passed: number;
  failed: number;
  skipped: number;
  total: number;
  /** Σ (Times.finish − Times.start) over the files. */
  duration_ms: number | null;
  failed_tests: string[];
  failed_tests_omitted: number;
  slowest: Array<{ name: string; ms: number }>;
  /** The first line of each failed test's message, keyed by test name (at most 50). */
  messages: Record<string, string>;
  /** What ResultSummary/Counters claimed, for reference. */
  counters: { total: number; passed: number; failed: number; notExecuted: number } | null;
}

const PASSED = new Set(['passed', 'passedbutrunaborted', 'warning']);
const FAILED = new Set(['failed', 'error', 'timeout', 'aborted']);

/** "00:00:01.2345678" → 1234.5678 ms. */
export function parseTrxDuration(d: string | undefined): number {
  if (!d) return 0;
  const m = /^(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(d.trim());
  if (!m) return 0;
  const [, days, h, min, s] = m;
  return (((Number(days ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(s)) * 1000;
}

const round = (n: number) => Math.round(n * 100) / 100;

export async function parseTrxFiles(files: string[]): Promise<TrxResult> {
  const out = { passed: 0, failed: 0, skipped: 0 };
  const failedNames = new BoundedList(50);
  const slowest = new TopN(5);
  const messages: Record<string, string> = {};
  let duration: number | null = null;
  let counters: TrxResult['counters'] = null;

  for (const file of files) {
    // A stack, because InnerResults nest UnitTestResults inside a UnitTestResult.
    const stack: Array<{ name: string; outcome: string; ms: number; hasInner: boolean; message: string }> = [];
    let inMessage = false;
    let start: number | null = null;
    let finish: number | null = null;
    await scanXml(file, {
      open(name, a) {
        if (name === 'UnitTestResult') {
          stack.push({ name: a.testName ?? '(unnamed)', outcome: (a.outcome ?? '').toLowerCase(), ms: parseTrxDuration(a.duration), hasInner: false, message: '' });
        } else if (name === 'InnerResults') {
          const top = stack[stack.length - 1];
          if (top) top.hasInner = true;
        } else if (name === 'Message' && stack.length) {
          inMessage = true;
        } else if (name === 'Times' && stack.length === 0) {
          if (a.start) start = Date.parse(a.start);
          if (a.finish) finish = Date.parse(a.finish);
        } else if (name === 'Counters') {
          const n = (k: string) => Number(a[k] ?? 0) || 0;
          const c = counters ?? { total: 0, passed: 0, failed: 0, notExecuted: 0 };
          c.total += n('total');
          c.passed += n('passed');
          c.failed += n('failed');
          c.notExecuted += n('notExecuted');
          counters = c;
        }
      },
      text(t) {
        const top = stack[stack.length - 1];
        if (inMessage && top && top.message.length < 500) top.message += t.slice(0, 500 - top.message.length);
      },
      close(name) {
        if (name === 'Message') inMessage = false;
        if (name !== 'UnitTestResult') return;
        const r = stack.pop();
        if (!r || r.hasInner) return; // a data-driven parent: its rows were counted
        if (PASSED.has(r.outcome)) out.passed++;
        else if (FAILED.has(r.outcome)) {
          out.failed++;
          failedNames.add(r.name);
          if (Object.keys(messages).length < 50) messages[r.name] = r.message.trim().split('\n')[0] ?? '';
        } else out.skipped++;
        slowest.add(r.name, round(r.ms));
      },
    });
    if (start !== null && finish !== null && Number.isFinite(start) && Number.isFinite(finish)) {
      duration = (duration ?? 0) + Math.max(0, finish - start);
    }
  }
  return {
    ...out,
    total: out.passed + out.failed + out.skipped,
    duration_ms: duration === null ? null : Math.round(duration),
    failed_tests: failedNames.items,
    failed_tests_omitted: failedNames.omitted,
    slowest: slowest.items,
    messages,
    counters,
  };
}
