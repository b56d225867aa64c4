/**
 * JUnit XML as pytest's `--junitxml` writes it (and most other tools), streamed.
 * A testcase is failed when it has <failure>, an error when it has <error>
 * (pytest: an exception in a fixture or collection), skipped when it has
 * <skipped> (pytest also writes xfail as skipped); else passed. <system-out>
 * and <system-err> are ignored except for the first line of a failure message.
 */
import { BoundedList, scanXml, TopN } from './xml.js';

export interface JunitResult {
  passed: number;
  failed: number;
  errors: number;
  skipped: number;
  total: number;
  duration_ms: number | null;
  failed_tests: string[];
  failed_tests_omitted: number;
  slowest: Array<{ name: string; ms: number }>;
  messages: Record<string, string>;
  /** Σ of the outermost <testsuite> elements' own `tests` attributes, for reference. */
  declared_tests: number | null;
}

export async function parseJunitFile(file: string): Promise<JunitResult> {
  const out = { passed: 0, failed: 0, errors: 0, skipped: 0 };
  const failedNames = new BoundedList(50);
  const slowest = new TopN(5);
  const messages: Record<string, string> = {};
  let suiteDepth = 0;
  let suiteTime: number | null = null;
  let rootTime: number | null = null;
  let declared: number | null = null;
  let current: { name: string; ms: number; state: 'passed' | 'failed' | 'error' | 'skipped'; message: string } | null = null;

  await scanXml(file, {
    open(name, a) {
      if (name === 'testsuites' && a.time) rootTime = Number(a.time) * 1000;
      if (name === 'testsuite') {
        if (suiteDepth === 0) {
          if (a.time) suiteTime = (suiteTime ?? 0) + Number(a.time) * 1000;
          if (a.tests) declared = (declared ?? 0) + Number(a.tests);
        }
        suiteDepth++;
      } else if (name === 'testcase') {
        const full = a.classname ? `${a.classname}.${a.name ?? ''}` : (a.name ?? '(unnamed)');
        current = { name: full, ms: Number(a.time ?? 0) * 1000 || 0, state: 'passed', message: '' };
      } else if (current && (name === 'failure' || name === 'error' || name === 'skipped')) {
        // A failure outranks a later teardown error; either outranks skipped.
        const rank = { passed: 0, skipped: 1, error: 2, failed: 3 } as const;
        const next = name === 'failure' ? 'failed' : name;
        if (rank[next] > rank[current.state]) {
          current.state = next;
          if (next !== 'skipped') current.message = (a.message ?? '').split('\n')[0]!.slice(0, 300);
        }
      }
    },
    close(name) {
      if (name === 'testsuite') suiteDepth--;
      if (name !== 'testcase' || !current) return;
      const c = current;
      current = null;
      if (c.state === 'passed') out.passed++;
      else if (c.state === 'skipped') out.skipped++;
      else {
        if (c.state === 'failed') out.failed++;
        else out.errors++;
        failedNames.add(c.name);
        if (Object.keys(messages).length < 50) messages[c.name] = c.message;
      }
      if (c.state !== 'skipped') slowest.add(c.name, Math.round(c.ms * 100) / 100);
    },
  });
  const time = rootTime ?? suiteTime;
  return {
    ...out,
    total: out.passed + out.failed + out.errors + out.skipped,
    duration_ms: time === null || !Number.isFinite(time) ? null : Math.round(time),
    failed_tests: failedNames.items,
    failed_tests_omitted: failedNames.omitted,
    slowest: slowest.items,
    messages,
    declared_tests: declared,
  };
}
