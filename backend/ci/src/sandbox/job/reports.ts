/**
 * Report files in the formats the real tools write, so the backend's parsers
 * are exercised on the real shapes:
 * - TRX as `dotnet test --logger trx` writes it (shaped on a file generated with
 *   the .NET 10 SDK and MSTest: note the counters count a skipped test in
 *   `total` but not in `executed` or `notExecuted`);
 * - JUnit XML as pytest's `--junitxml` writes it (pytest 7, junit_family xunit2);
 * - a self-contained pytest-html-like page for the E2E suite.
 */
import { createHash, randomUUID } from 'node:crypto';

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/\n/g, '&#10;');
const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface UnitTest {
  className: string;
  name: string;
  outcome: 'Passed' | 'Failed' | 'NotExecuted';
  durationMs: number;
  message?: string;
  stackTrace?: string;
}

/** A TimeSpan as TRX writes it: 00:00:00.0316738 */
function timeSpan(ms: number): string {
  const totalSec = ms / 1000;
  const h = Math.floor(totalSec / 3600);
  const m = Math.floor((totalSec % 3600) / 60);
  const s = totalSec % 60;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(h)}:${p(m)}:${s.toFixed(7).padStart(10, '0')}`;
}

/** MSTest test ids are name-based GUIDs; a stable hash keeps them stable across builds. */
function nameGuid(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function renderTrx(opts: { tests: UnitTest[]; start: Date; finish: Date; computer: string; storage: string; stdout: string }): string {
  const testType = '13cdc9d9-ddb5-4fa4-a97d-d965ccfc6d4b';
  const listId = '8c84fa94-04c1-424b-9868-57a2d4851a1d';
  const iso = (d: Date) => d.toISOString().replace('Z', '0000+00:00');
  const rows = opts.tests.map((t) => ({ ...t, testId: nameGuid(`${t.className}.${t.name}`), executionId: randomUUID() }));
  let clock = opts.start.getTime();
  const results = rows.map((t) => {
    const st = new Date(clock);
    clock += Math.max(1, t.durationMs);
    const en = new Date(clock);
    const head = `    <UnitTestResult executionId="${t.executionId}" testId="${t.testId}" testName="${xml(t.name)}" computerName="${xml(opts.computer)}"${t.outcome === 'NotExecuted' ? '' : ` duration="${timeSpan(t.durationMs)}"`} startTime="${iso(st)}" endTime="${iso(en)}" testType="${testType}" outcome="${t.outcome}" testListId="${listId}" relativeResultsDirectory="${t.executionId}"`;
    if (t.outcome === 'Passed') return `${head} />`;
    if (t.outcome === 'NotExecuted') return `${head}>\n      <Output></Output>\n    </UnitTestResult>`;
    return `${head}>\n      <Output>\n        <ErrorInfo>\n          <Message>${xmlText(t.message ?? 'Assert failed.')}</Message>\n          <StackTrace>${xmlText(t.stackTrace ?? '')}</StackTrace>\n        </ErrorInfo>\n      </Output>\n    </UnitTestResult>`;
  });
  const defs = rows.map(
    (t) =>
      `    <UnitTest name="${xml(t.name)}" storage="${xml(opts.storage.toLowerCase())}" id="${t.testId}">\n      <Execution id="${t.executionId}" />\n      <TestMethod codeBase="${xml(opts.storage)}" adapterTypeName="executor://mstestadapter/v4" className="${xml(t.className)}" name="${xml(t.name)}" />\n    </UnitTest>`,
  );
  const entries = rows.map((t) => `    <TestEntry testId="${t.testId}" executionId="${t.executionId}" testListId="${listId}" />`);
  const passed = rows.filter((t) => t.outcome === 'Passed').length;
  const failed = rows.filter((t) => t.outcome === 'Failed').length;
  const executed = passed + failed;
  const runName = `@${opts.computer} ${opts.start.toISOString().slice(0, 19).replace('T', ' ')}`;
  return (
    '\ufeff<?xml version="1.0" encoding="utf-8"?>\n' +
    `<TestRun id="${randomUUID()}" name="${xml(runName)}" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">\n` +
    `  <Times creation="${iso(opts.finish)}" queuing="${iso(opts.finish)}" start="${iso(opts.start)}" finish="${iso(opts.finish)}" />\n` +
    `  <TestSettings name="default" id="${randomUUID()}">\n    <Deployment runDeploymentRoot="_${opts.computer}_${opts.start.toISOString().slice(0, 19).replace(/[-:T]/g, '_')}" />\n  </TestSettings>\n` +
    `  <Results>\n${results.join('\n')}\n  </Results>\n` +
    `  <TestDefinitions>\n${defs.join('\n')}\n  </TestDefinitions>\n` +
    `  <TestEntries>\n${entries.join('\n')}\n  </TestEntries>\n` +
    `  <TestLists>\n    <TestList name="Results Not in a List" id="${listId}" />\n    <TestList name="All Loaded Results" id="19431567-8539-422a-85d7-44ee4e166bda" />\n  </TestLists>\n` +
    `  <ResultSummary outcome="${failed ? 'Failed' : 'Completed'}">\n` +
    `    <Counters total="${rows.length}" executed="${executed}" passed="${passed}" failed="${failed}" error="0" timeout="0" aborted="0" inconclusive="0" passedButRunAborted="0" notRunnable="0" notExecuted="0" disconnected="0" warning="0" completed="0" inProgress="0" pending="0" />\n` +
    `    <Output>\n      <StdOut>${xmlText(opts.stdout)}</StdOut>\n    </Output>\n  </ResultSummary>\n</TestRun>`
  );
}

export interface E2eResult {
  classname: string;
  name: string;
  timeS: number;
  outcome: 'passed' | 'failed' | 'skipped' | 'error';
  /** failure: the one-line message; skipped: the reason. */
  message?: string;
  /** The pytest traceback text (failures) or "file:line: reason" (skips). */
  detail?: string;
}

/** pytest --junitxml (one line, as pytest writes it). */
export function renderJunit(results: E2eResult[], started: Date, host: string): string {
  const count = (o: E2eResult['outcome']) => results.filter((r) => r.outcome === o).length;
  const total = results.reduce((s, r) => s + r.timeS, 0);
  const cases = results.map((r) => {
    const head = `<testcase classname="${xml(r.classname)}" name="${xml(r.name)}" time="${r.timeS.toFixed(3)}"`;
    if (r.outcome === 'passed') return `${head} />`;
    if (r.outcome === 'skipped') return `${head}><skipped type="pytest.skip" message="${xml(r.message ?? '')}">${xmlText(r.detail ?? '')}</skipped></testcase>`;
    const tag = r.outcome === 'error' ? 'error' : 'failure';
    return `${head}><${tag} message="${xml(r.message ?? '')}">${xmlText(r.detail ?? '')}</${tag}></testcase>`;
  });
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<testsuites><testsuite name="pytest" errors="${count('error')}" failures="${count('failed')}" skipped="${count('skipped')}" tests="${results.length}" time="${total.toFixed(3)}" timestamp="${started.toISOString().slice(0, 23)}" hostname="${xml(host)}">` +
    cases.join('') +
    '</testsuite></testsuites>'
  );
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A self-contained pytest-html-like report (pytest-html is not installable here; same layout as its v3 pages). */
export function renderPytestHtml(results: E2eResult[], opts: { title: string; generated: Date; durationS: number; environment: Record<string, string> }): string {
  const n = (o: E2eResult['outcome']) => results.filter((r) => r.outcome === o).length;
  const rows = results
    .map(
      (r) =>
        `<tbody class="${r.outcome} results-table-row"><tr><td class="col-result">${r.outcome[0]!.toUpperCase()}${r.outcome.slice(1)}</td>` +
        `<td class="col-name">${esc(`${r.classname.replace(/\./g, '/')}.py::${r.name}`)}</td><td class="col-duration">${r.timeS.toFixed(2)}</td></tr>` +
        (r.detail ? `<tr><td class="extra" colspan="3"><div class="log">${esc(r.detail)}</div></td></tr>` : '') +
        '</tbody>',
    )
    .join('\n');
  const env = Object.entries(opts.environment)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`)
    .join('');
  return `<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8"/>
    <title>${esc(opts.title)}</title>
    <style>body{font-family:Helvetica,Arial,sans-serif;font-size:12px;color:#222;background:#fff}h1{font-size:24px}
table{border-collapse:collapse}td,th{border:1px solid #e6e6e6;padding:5px}.passed,.passed .col-result{color:green}.failed,.failed .col-result,.error .col-result{color:red}
.skipped .col-result{color:orange}div.log{white-space:pre-wrap;font-family:"Courier New",Courier,monospace;background:#e6e6e6;padding:5px}
@media (prefers-color-scheme: dark){body{background:#111;color:#ddd}div.log{background:#222}}</style>
  </head>
  <body>
    <h1>${esc(opts.title)}</h1>
    <p>Report generated on ${opts.generated.toISOString().slice(0, 10)} at ${opts.generated.toISOString().slice(11, 19)} by <a href="https://pypi.python.org/pypi/pytest-html">pytest-html</a> (format emulated by the QA Intelligence sandbox)</p>
    <h2>Environment</h2>
    <table id="environment">${env}</table>
    <h2>Summary</h2>
    <p id="summary-line">${results.length} tests ran in ${opts.durationS.toFixed(2)} seconds. </p>
    <p class="filter">
      ${(['passed', 'skipped', 'failed', 'error'] as const)
        .map((k) => `<input checked="true" class="filter" data-test-result="${k}" name="filter_checkbox" type="checkbox"/><span class="${k}">${n(k)} ${k === 'error' ? 'errors' : k}</span>`)
        .join(',\n      ')}
    </p>
    <h2>Results</h2>
    <table id="results-table">
      <thead id="results-table-head"><tr><th class="sortable result initial-sort" col="result">Result</th><th class="sortable" col="name">Test</th><th class="sortable" col="duration">Duration</th></tr></thead>
${rows}
    </table>
  </body>
</html>
`;
}
