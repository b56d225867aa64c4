#!/usr/bin/env node
// Browser tests of the CI/CD page: the built page (frontend/dist), served by the
// real backend in sandbox mode, driven in Debian's Chromium with playwright-core.
//
//   node frontend/test/browser/run.mjs
//
// Builds the page first (vite build) only when frontend/dist is missing or
// older than the sources. Starts the backend as a child process on a free
// loopback port with a fresh SQLite file and artifact store, presses Deploy,
// watches chips and logs, opens an artifact, induces a smoke failure through
// the sandbox panel, rolls back through the dialog, runs axe-core in dark and
// light mode and saves screenshots to docs/screenshots/. With AUTH_MODE=token
// available in the backend, it also signs in as a viewer and as an admin.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const frontend = path.resolve(here, '..', '..');
const root = path.resolve(frontend, '..');
const dist = path.join(frontend, 'dist');
const shots = path.join(root, 'docs', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const isCI = process.env.CI === 'true';
const STEP_TIMEOUT = 60_000;

// ---------------------------------------------------------------- helpers

function log(s) {
  process.stdout.write(`${s}\n`);
}

const failures = [];
const skipped = [];
async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    log(`  ✓ ${name} (${((Date.now() - t) / 1000).toFixed(1)}s)`);
  } catch (err) {
    log(`  ✗ ${name}\n      ${String(err?.stack ?? err).split('\n').slice(0, 6).join('\n      ')}`);
    failures.push(name);
    throw err;
  }
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  const index = path.join(dist, 'index.html');
  const sourcesNewer = existsSync(index) && Math.max(newestMtime(path.join(frontend, 'src')), statSync(path.join(frontend, 'index.html')).mtimeMs) > statSync(index).mtimeMs;
  if (existsSync(index) && !sourcesNewer) return;
  log(existsSync(index) ? 'frontend/dist is older than the sources: vite build' : 'frontend/dist is missing: vite build');
  const r = spawnSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['vite', 'build'], { cwd: frontend, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('vite build failed');
}

/** Starts the real backend (sandbox mode) on a free loopback port; resolves once /readyz answers 200. */
/** A free loopback port (for a backend that must come back on the same address). */
async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startBackend(extraEnv = {}, reuseTmp = null) {
  const tmp = reuseTmp ?? mkdtempSync(path.join(tmpdir(), 'qa-ci-browser-'));
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: path.join(tmp, 'ci.sqlite'),
    ARTIFACT_STORE: path.join(tmp, 'artifacts'),
    SANDBOX_TIME_SCALE: '0.02',
    FRONTEND_DIST: dist,
    LOG_LEVEL: 'warn',
    AUTH_MODE: 'none',
    ...extraEnv,
  };
  delete env.JENKINS_URL; // the sandbox is used only when JENKINS_URL is unset
  // One node process with tsx as a loader (no npx/tsx wrapper processes that could outlive a kill),
  // in its own process group so stop() ends everything it started.
  const child = spawn(process.execPath, ['--import', 'tsx', 'backend/ci/src/server.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  });
  const killTree = (signal) => {
    try {
      if (process.platform === 'win32') child.kill(signal);
      else process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  // If this script dies, do not leave the backend behind.
  process.once('exit', () => killTree('SIGKILL'));
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`backend did not start within 90 s; its output:\n${output}`)), 90_000);
    const onData = (d) => {
      output += d.toString();
      const m = output.match(/listening on (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`backend exited with ${code} before listening; its output:\n${output}`));
    });
  });
  for (let i = 0; ; i++) {
    const r = await fetch(`${url}/readyz`).catch(() => null);
    if (r?.status === 200) break;
    if (i > 120) throw new Error(`${url}/readyz did not answer 200 within 60 s`);
    await new Promise((res) => setTimeout(res, 500));
  }
  return {
    url,
    tmp,
    env,
    output: () => output,
    /** keepData: leave the database and artifacts for a restart on the same files. */
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null) {
        killTree('SIGTERM');
        await new Promise((res) => {
          const t = setTimeout(() => {
            killTree('SIGKILL');
            res();
          }, 10_000);
          child.once('exit', () => {
            clearTimeout(t);
            res();
          });
        });
      }
      if (!keepData) rmSync(tmp, { recursive: true, force: true });
    },
  };
}

const AXE_SOURCE = readFileSync(path.join(root, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** Runs axe-core on the page (or one element) and throws with a readable list of violations. */
async function expectNoAxeViolations(page, label, selector = null) {
  // evaluate() goes through DevTools, so a Content-Security-Policy cannot block the injection.
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (sel) => {
    const ctx = sel ? document.querySelector(sel) : document;
    const r = await window.axe.run(ctx, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')} — ${n.failureSummary?.split('\n').slice(1, 2).join(' ')}`) }));
  }, selector);
  if (violations.length) {
    throw new Error(`axe found ${violations.length} violation(s) in ${label}:\n${violations.map((v) => `- ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n')}`);
  }
}

async function runIdFromUrl(page) {
  return new URL(page.url()).searchParams.get('run');
}

async function waitForNewRun(page, previous) {
  await page.waitForFunction((prev) => {
    const id = new URLSearchParams(location.search).get('run');
    return id && id !== prev;
  }, previous, { timeout: STEP_TIMEOUT });
  return runIdFromUrl(page);
}

async function waitForRunStatus(page, text, timeout = 120_000) {
  try {
    await page.getByTestId('run-status').filter({ hasText: text }).waitFor({ timeout });
  } catch (err) {
    const id = await runIdFromUrl(page);
    const shown = await page.getByTestId('run-status').textContent().catch(() => '(no run status shown)');
    const reason = await page.getByTestId('run-reason').textContent({ timeout: 1000 }).catch(() => '');
    const api = id ? await page.evaluate(async (rid) => (await fetch(`/ci/runs/${rid}`)).text(), id).catch((e) => String(e)) : '';
    throw new Error(`run ${id} did not reach "${text}": the page shows "${shown}" ${reason}\nGET /ci/runs/${id}: ${api.slice(0, 1500)}`, { cause: err });
  }
}

async function chipStates(page) {
  return page.evaluate(() => {
    const list = document.querySelector('[data-testid="run-log-stream"] ol.chips');
    return Object.fromEntries([...(list?.querySelectorAll('[data-stage]') ?? [])].map((c) => [c.getAttribute('data-stage'), c.getAttribute('data-status')]));
  });
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// ---------------------------------------------------------------- scenarios

async function sandboxScenario(browser, backend) {
  const base = backend.url;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(`${m.text()} ${m.location()?.url ?? ''}`));
  page.on('response', (r) => r.status() >= 400 && pageErrors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`));

  await step('the built page loads from the backend, dark by default, with the auth-off banner', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('button', { name: 'Deploy WeSign to DevTest' }).waitFor();
    assert((await page.getAttribute('html', 'data-theme')) === 'dark', 'the page is not dark by default');
    await page.getByText('Authentication is off').waitFor();
    await page.getByTestId('sandbox-panel').waitFor();
  });

  await step('axe-core: no violations on the empty page (dark)', () => expectNoAxeViolations(page, 'the empty page, dark'));

  let firstRun;
  await step('Deploy: the live log opens, lines stream and the chips go green', async () => {
    await page.getByRole('button', { name: 'Deploy WeSign to DevTest' }).click();
    firstRun = await waitForNewRun(page, null);
    await page.getByTestId('log-viewport').waitFor();
    // Sample while it runs: the line count must grow in steps (streamed, not delivered at the end),
    // and some chip must be seen running before everything is green.
    const counts = new Set();
    let sawRunning = false;
    const deadline = Date.now() + STEP_TIMEOUT;
    while (Date.now() < deadline) {
      const text = await page.locator('.log-toolbar__count').textContent();
      counts.add(Number(text.replace(/\D/g, '')));
      const chips = await chipStates(page);
      if (Object.values(chips).includes('running')) sawRunning = true;
      if (await page.getByTestId('log-end').isVisible()) break;
      await page.waitForTimeout(50);
    }
    const nonZero = [...counts].filter((n) => n > 0);
    assert(nonZero.length >= 2, `expected the log to grow while the run was live; line counts seen: ${[...counts].join(', ')}`);
    assert(sawRunning, 'never saw a stage chip in the running state');
    await waitForRunStatus(page, 'Succeeded');
    const chips = await chipStates(page);
    for (const id of ['checkout', 'preflight', 'build', 'package', 'config', 'transfer', 'deploy', 'smoke', 'api', 'e2e', 'report']) {
      assert(chips[id] === 'success', `chip ${id} is ${chips[id]}, expected success (all: ${JSON.stringify(chips)})`);
    }
    assert(chips.rollback === 'skipped', `chip rollback is ${chips.rollback}, expected skipped`);
    assert((await page.locator('.log-line').count()) > 0, 'no log line is rendered');
    // No gap and no duplicate: the page holds exactly the lines the backend stored.
    const stored = (await (await fetch(`${base}/ci/runs/${firstRun}`)).json()).metrics.log_lines;
    const shown = Number((await page.locator('.log-toolbar__count').textContent()).replace(/\D/g, ''));
    assert(shown === stored, `the page holds ${shown} log lines, the backend stored ${stored}`);
    const live = await page.getByTestId('live-region').textContent();
    assert(/Run succeeded|Notify: success|: success/.test(live ?? ''), `the live region did not announce the outcome (it says "${live}")`);
  });

  await step('run details: score with its parts, gates with reasons, the summary rendered safely', async () => {
    await page.getByTestId('run-score').filter({ hasText: '100' }).waitFor();
    await page.getByTestId('score-parts').waitFor({ timeout: STEP_TIMEOUT });
    assert((await page.getByTestId('score-parts').locator('tr').count()) === 4, 'expected 4 score parts (build, smoke, api, e2e)');
    assert((await page.getByTestId('gates').locator('li').count()) >= 6, 'expected the six gates');
    await page.getByTestId('summary-text').filter({ hasText: 'Run Score' }).waitFor({ timeout: STEP_TIMEOUT });
    assert((await page.getByTestId('summary-text').locator('script, img, iframe, style, object').count()) === 0, 'the summary produced active elements');
    await page.getByTestId('summary-text').getByRole('table').first().waitFor();
    assert((await page.getByTestId('run-initiator').textContent()) === 'local', 'initiator is not "local"');
  });

  await step('an artifact opens in a new tab, sandboxed and without window.opener', async () => {
    const link = page.getByRole('link', { name: /^Newman report/ });
    assert((await link.getAttribute('target')) === '_blank', 'the report link does not open a new tab');
    assert(((await link.getAttribute('rel')) ?? '').split(' ').includes('noopener'), 'the report link lacks rel=noopener');
    const [popup] = await Promise.all([page.waitForEvent('popup'), link.click()]);
    await popup.waitForLoadState('domcontentloaded');
    assert(popup.url().endsWith(`/ci/runs/${firstRun}/artifacts/newman.html`), `the popup opened ${popup.url()}`);
    assert((await popup.evaluate(() => window.opener)) === null, 'the report tab can reach window.opener');
    const res = await fetch(popup.url());
    assert(res.status === 200, `the artifact answered ${res.status}`);
    assert((res.headers.get('content-security-policy') ?? '').includes('sandbox'), 'the artifact is not served with CSP sandbox');
    await popup.close();
  });

  await step('history shows the run with duration, initiator, score and links', async () => {
    const row = page.locator(`tr[data-run-id="${firstRun}"]`);
    await row.waitFor({ timeout: STEP_TIMEOUT });
    const text = await row.textContent();
    assert(text.includes('Succeeded') && text.includes('main') && text.includes('local') && text.includes('100'), `history row says: ${text}`);
    await row.getByRole('link', { name: /Jenkins #\d+/ }).waitFor();
    await page.getByTestId('trend').waitFor();
  });

  await step('axe-core: no violations with a finished run (dark); desktop screenshot', async () => {
    await expectNoAxeViolations(page, 'the page with a finished run, dark');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'ci-desktop-dark.png'), fullPage: true });
  });

  await step('light theme: chosen in the header, persisted across a reload, no axe violations; screenshot', async () => {
    await page.getByTestId('theme-select').selectOption('light');
    assert((await page.getAttribute('html', 'data-theme')) === 'light', 'the theme did not switch to light');
    await page.reload();
    await page.getByRole('button', { name: 'Deploy WeSign to DevTest' }).waitFor();
    assert((await page.getAttribute('html', 'data-theme')) === 'light', 'the light theme did not survive a reload');
    await waitForRunStatus(page, 'Succeeded');
    await page.getByTestId('summary-text').waitFor({ timeout: STEP_TIMEOUT });
    await expectNoAxeViolations(page, 'the page with a finished run, light');
    await page.screenshot({ path: path.join(shots, 'ci-desktop-light.png'), fullPage: true });
    await page.getByTestId('theme-select').selectOption('system');
    assert((await page.getAttribute('html', 'data-theme')) === 'dark', 'system theme in a dark-preferring browser should be dark');
    await page.getByTestId('theme-select').selectOption('dark');
  });

  await step('phone widths (390 and 360 px): no horizontal overflow; screenshot', async () => {
    for (const width of [390, 360]) {
      const phone = await context.newPage();
      await phone.setViewportSize({ width, height: 844 });
      await phone.goto(`${base}/?run=${firstRun}`);
      await waitForRunStatus(phone, 'Succeeded');
      await phone.getByTestId('summary-text').waitFor({ timeout: STEP_TIMEOUT });
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 1, `the page is ${overflow}px wider than a ${width}px screen`);
      if (width === 390) await phone.screenshot({ path: path.join(shots, 'ci-phone-dark.png'), fullPage: true });
      await phone.close();
    }
  });

  let failedRun;
  await step('sandbox panel: "Smoke fails" → the run auto-rolls back and history shows the marker', async () => {
    const smoke = page.getByRole('switch', { name: 'Smoke fails' });
    await smoke.click();
    await page.waitForFunction(() => document.querySelector('[data-fault="smoke_fail"]')?.checked === true);
    await page.waitForFunction(() => document.querySelector('.fault-list')?.getAttribute('aria-busy') === 'false');
    const faults = await (await fetch(`${base}/ci/sandbox`)).json();
    assert(faults.faults.smoke_fail === true, 'the fault did not reach the backend');
    await page.getByRole('button', { name: 'Deploy WeSign to DevTest' }).click();
    failedRun = await waitForNewRun(page, firstRun);
    await waitForRunStatus(page, 'Rolled back');
    const chips = await chipStates(page);
    assert(chips.smoke === 'failure' || chips.smoke === 'rolled_back', `chip smoke is ${chips.smoke}`);
    assert(chips.rollback === 'success', `chip rollback is ${chips.rollback}`);
    await page.getByTestId('run-reason').waitFor();
    await page.locator(`tr[data-run-id="${failedRun}"] [data-testid="rollback-marker"]`).waitFor({ timeout: STEP_TIMEOUT });
    await smoke.click();
    await page.waitForFunction(() => document.querySelector('[data-fault="smoke_fail"]')?.checked === false);
    await page.waitForFunction(() => document.querySelector('.fault-list')?.getAttribute('aria-busy') === 'false');
    assert((await (await fetch(`${base}/ci/sandbox`)).json()).faults.smoke_fail === false, 'the fault was not cleared');
  });

  await step('history filter in the URL: status=rolled_back shows only the rolled-back run', async () => {
    await page.getByLabel('Status', { exact: true }).selectOption('rolled_back');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('status') === 'rolled_back');
    await page.waitForFunction(() => document.querySelectorAll('.history-table tbody tr').length === 1);
    assert((await page.locator('.history-table tbody tr').getAttribute('data-run-id')) === failedRun, 'the filtered history does not show the rolled-back run');
    await page.reload();
    assert((await page.getByLabel('Status', { exact: true }).inputValue()) === 'rolled_back', 'the filter did not survive a reload');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForFunction(() => !new URLSearchParams(location.search).has('status'));
  });

  await step('Rollback N-1 (admin): dialog names the version, needs "DevTest" typed, Escape closes; the rollback runs', async () => {
    const button = page.getByRole('button', { name: 'Rollback N-1' });
    await page.waitForFunction(() => {
      const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Rollback N-1');
      return b && !b.disabled;
    }, null, { timeout: STEP_TIMEOUT });
    await button.click();
    const dialog = page.getByRole('dialog', { name: 'Roll back DevTest to the previous version' });
    await dialog.waitFor();
    const version = await page.getByTestId('rollback-version').textContent();
    assert(version && version.length > 0, 'the dialog does not name the version it restores');
    await expectNoAxeViolations(page, 'the rollback dialog', '[role="dialog"]');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert(await button.evaluate((b) => b === document.activeElement), 'focus did not return to the Rollback button');
    await button.click();
    const go = page.getByRole('button', { name: 'Roll back DevTest' });
    assert(await go.isDisabled(), 'the rollback action is enabled before the env name is typed');
    await page.getByLabel(/Type DevTest to confirm/).fill('DevTest');
    await page.getByLabel(/Reason/).fill('browser test: restore the previous version');
    await go.click();
    const rollbackRun = await waitForNewRun(page, failedRun);
    await waitForRunStatus(page, 'Succeeded');
    await page.locator('.facts dd', { hasText: 'Rollback N-1' }).waitFor();
    await page.locator(`tr[data-run-id="${rollbackRun}"]`, { hasText: 'rollback' }).waitFor({ timeout: STEP_TIMEOUT });
  });

  await step('a deploy while another run is active shows its queue position', async () => {
    // Two full runs through the API keep DevTest busy for a while (runs on one environment go one at a time).
    for (let i = 0; i < 2; i++) {
      const other = await (await fetch(`${base}/ci/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ app: 'WeSign', env: 'DevTest', branch_or_tag: 'main', dry_run: false, test_suite: 'full', provider: 'jenkins' }) })).json();
      assert(other.run_id, `POST /ci/runs answered ${JSON.stringify(other)}`);
    }
    await page.getByTestId('queue-notice').waitFor({ timeout: STEP_TIMEOUT });
    await page.getByRole('button', { name: 'Deploy WeSign to DevTest' }).click();
    const pos = Number(await page.getByTestId('queue-position').textContent({ timeout: STEP_TIMEOUT }));
    assert(pos >= 1, `queue position shown: ${pos}`);
    // Let both finish, so nothing is left running.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const e = (await (await fetch(`${base}/ci/environments`)).json()).environments[0];
      if (!e.active_run_id && e.queue_length === 0) break;
      assert(Date.now() < deadline, 'the queued runs did not finish within 180 s');
      await new Promise((r) => setTimeout(r, 1000));
    }
    log(`      (queue position shown: ${pos})`);
  });

  await step('no script errors on the page', async () => {
    assert(pageErrors.length === 0, `page errors:\n${pageErrors.join('\n')}`);
  });
  await context.close();
}

/**
 * The backend goes away in the middle of a run and comes back on the same port
 * and files: the page says it is reconnecting, then resumes the log with
 * from=<last seq>, ending with exactly the lines the backend stored.
 */
async function restartScenario(browser) {
  const port = String(await freePort());
  // Slower pacing, so the run is still going when the backend stops.
  let backend = await startBackend({ PORT: port, SANDBOX_TIME_SCALE: '0.3' });
  const tmp = backend.tmp;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const wsUrls = [];
  page.on('websocket', (ws) => wsUrls.push(ws.url()));
  try {
    await step('backend restart mid-run: the page shows "reconnecting", then resumes from the last seq', async () => {
      await page.goto(`${backend.url}/`);
      await page.getByRole('button', { name: 'Deploy WeSign to DevTest' }).click();
      const id = await waitForNewRun(page, null);
      await page.waitForFunction(() => Number(document.querySelector('.log-toolbar__count')?.textContent?.replace(/\D/g, '')) >= 5, null, { timeout: STEP_TIMEOUT });
      await backend.stop({ keepData: true });
      await page.getByText('Live log connection lost — reconnecting').waitFor({ timeout: STEP_TIMEOUT });
      const heldBefore = Number((await page.locator('.log-toolbar__count').textContent()).replace(/\D/g, ''));
      backend = await startBackend({ PORT: port, SANDBOX_TIME_SCALE: '0.3' }, tmp);
      await page.getByTestId('log-end').waitFor({ timeout: 180_000 });
      const resumed = wsUrls.slice(1).map((u) => Number(new URL(u).searchParams.get('from')));
      assert(resumed.length >= 1 && resumed.every((f) => f > 0), `reconnects did not resume from a seq: ${wsUrls.join(', ')}`);
      assert(resumed.at(-1) >= heldBefore, `the last reconnect asked from=${resumed.at(-1)} while the page held ${heldBefore} lines`);
      const run = await (await fetch(`${backend.url}/ci/runs/${id}`)).json();
      const shown = Number((await page.locator('.log-toolbar__count').textContent()).replace(/\D/g, ''));
      assert(shown === run.metrics.log_lines, `after the restart the page holds ${shown} log lines, the backend stored ${run.metrics.log_lines} (run ${run.status})`);
      assert(!(await page.getByText('Live log connection lost — reconnecting').isVisible()), 'the reconnecting banner is still shown');
    });
  } finally {
    await context.close();
    await backend.stop();
  }
}

/** AUTH_MODE=token: sign in as viewer (no Rollback button) and as admin (roll back through the dialog). */
async function tokenScenario(browser) {
  const backend = await startBackend({ AUTH_MODE: 'token', SESSION_SECRET: 'fake-session-secret-example-0123456789abcdef' });
  try {
    const probe = await fetch(`${backend.url}/ci/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":"fake-probe-token-example"}' });
    if (probe.status === 404) {
      skipped.push('sign-in as viewer/admin (AUTH_MODE=token: POST /ci/auth/login answers 404, access control is not wired into the app yet)');
      return;
    }
    const createToken = (name, role) => {
      const r = spawnSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['tsx', 'backend/ci/src/cli/tokens.ts', 'create', '--name', name, '--role', role], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: backend.env.DATABASE_URL },
        encoding: 'utf8',
      });
      // The token is the line starting with qaci_; it is used, never printed.
      const token = r.stdout.split('\n').find((l) => l.startsWith('qaci_'));
      if (r.status !== 0 || !token) throw new Error(`tokens create --role ${role} failed (exit ${r.status}): ${r.stderr}`);
      return token.trim();
    };
    const viewerToken = createToken('vera-viewer', 'viewer');
    const adminToken = createToken('ada-admin', 'admin');

    const signIn = async (token) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.goto(`${backend.url}/`);
      await page.getByLabel('Access token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByTestId('user-chip').waitFor({ timeout: STEP_TIMEOUT });
      return { context, page };
    };

    await step('token mode: a wrong token is refused on the sign-in screen', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${backend.url}/`);
      await page.getByLabel('Access token').fill('qaci_fake_wrong_token_example');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('Token not accepted').waitFor({ timeout: STEP_TIMEOUT });
      await context.close();
    });

    await step('token mode: a viewer sees no Rollback button and cannot deploy', async () => {
      const { context, page } = await signIn(viewerToken);
      assert((await page.getByTestId('user-chip').textContent()).includes('viewer'), 'the user chip does not say viewer');
      await page.getByTestId('env-card').waitFor();
      assert((await page.getByRole('button', { name: 'Rollback N-1' }).count()) === 0, 'a viewer sees the Rollback button');
      assert(await page.getByRole('button', { name: 'Deploy WeSign to DevTest' }).isDisabled(), 'a viewer can press Deploy');
      await expectNoAxeViolations(page, 'the page as a viewer');
      await context.close();
    });

    await step('token mode: an admin deploys, then rolls back through the confirmation dialog', async () => {
      const { context, page } = await signIn(adminToken);
      await page.getByRole('button', { name: 'Deploy WeSign to DevTest' }).click(); // a cookie-authenticated write: needs X-CSRF-Token
      const deployRun = await waitForNewRun(page, null);
      await waitForRunStatus(page, 'Succeeded');
      // The live log is a same-origin WebSocket: the session cookie must authenticate it.
      await page.getByTestId('log-end').waitFor({ timeout: STEP_TIMEOUT });
      assert((await page.locator('.log-line').count()) > 0, 'no log line arrived over the WebSocket with a session cookie');
      const button = page.getByRole('button', { name: 'Rollback N-1' });
      await page.waitForFunction(() => {
        const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Rollback N-1');
        return b && !b.disabled;
      }, null, { timeout: STEP_TIMEOUT });
      await button.click();
      await page.getByLabel(/Type DevTest to confirm/).fill('DevTest');
      await page.getByRole('button', { name: 'Roll back DevTest' }).click();
      await waitForNewRun(page, deployRun);
      await waitForRunStatus(page, 'Succeeded');
      assert((await page.getByTestId('run-initiator').textContent()).includes('ada-admin'), 'the rollback does not record the admin as initiator');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Access token').waitFor({ timeout: STEP_TIMEOUT });
      await context.close();
    });
  } finally {
    await backend.stop();
  }
}

// ---------------------------------------------------------------- main

async function main() {
  if (!existsSync(CHROMIUM)) {
    const msg = `[browser] ${CHROMIUM} not found: install it with "apt-get update && apt-get install -y chromium" (or set CHROMIUM_PATH)`;
    if (isCI) {
      console.error(msg);
      process.exit(1);
    }
    console.warn(`${msg}; skipped because CI is not true`);
    return;
  }
  ensureBuilt();
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  let backend = null;
  try {
    log('Sandbox, AUTH_MODE=none');
    backend = await startBackend();
    log(`  backend at ${backend.url}`);
    try {
      await sandboxScenario(browser, backend);
    } catch {
      // Reported by step(); the remaining steps depend on it.
    }
    await backend.stop();
    backend = null;
    log('Sandbox, backend restart during a run');
    try {
      await restartScenario(browser);
    } catch {
      // Reported by step().
    }
    log('Sandbox, AUTH_MODE=token');
    try {
      await tokenScenario(browser);
    } catch {
      // Reported by step().
    }
  } finally {
    if (backend) {
      if (failures.length) log(`backend output:\n${backend.output().slice(-4000)}`);
      await backend.stop();
    }
    await browser.close();
  }
  for (const s of skipped) log(`  - skipped: ${s}`);
  if (failures.length) {
    console.error(`\nbrowser tests failed: ${failures.join('; ')}`);
    process.exit(1);
  }
  log(`\nbrowser tests passed; screenshots in ${path.relative(root, shots)}/`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
