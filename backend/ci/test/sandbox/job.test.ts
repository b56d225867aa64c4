/**
 * The emulated WeSign-CI job: its parameters, console, stages and the contract
 * artifacts, checked for self-consistency (zip SHA-256 = artifact.json; Newman
 * JSON = Newman HTML; JUnit XML = the pytest-html page; TRX counters = its rows).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import type { Sandbox } from '../../src/sandbox/index.js';
import { REPO_ROOT } from '../../src/sandbox/contract.js';
import { artifact, artifactJson, consoleText, getJson, JOB, runBuild, sandbox } from './helpers.js';

const contract = JSON.parse(readFileSync(path.join(REPO_ROOT, 'contract', 'pipeline.json'), 'utf8')) as {
  stages: { id: string; jenkins: string[] }[];
  artifacts: string[];
};
const idOfStage = new Map(contract.stages.flatMap((s) => s.jenkins.map((n) => [n, s.id] as const)));

let sb: Sandbox;
beforeAll(async () => {
  sb = await sandbox();
});
afterAll(async () => {
  await sb?.close();
});

async function stages(n: number): Promise<Record<string, string>> {
  const d = await getJson(sb, `/job/${JOB}/${n}/wfapi/describe`);
  return Object.fromEntries(d.stages.map((s: any) => [s.name, s.status]));
}

function zipEntries(buf: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, z) => {
      if (err || !z) return reject(err);
      const out = new Map<string, Buffer>();
      z.on('entry', (e: yauzl.Entry) => {
        z.openReadStream(e, (e2, s) => {
          if (e2 || !s) return reject(e2);
          const chunks: Buffer[] = [];
          s.on('data', (c: Buffer) => chunks.push(c));
          s.on('end', () => {
            out.set(e.fileName, Buffer.concat(chunks));
            z.readEntry();
          });
        });
      });
      z.on('end', () => resolve(out));
      z.readEntry();
    });
  });
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true });

describe('a full deploy (TEST_SUITE=full)', () => {
  let n = 0;
  let build: any;
  let before = 0;
  let previous: string | null = null;
  beforeAll(async () => {
    before = sb.devtestRequestCount();
    previous = sb.deployedVersion();
    ({ n, build } = await runBuild(sb, { TEST_SUITE: 'full', QA_RUN_ID: 'full-1', BRANCH_OR_TAG: 'main' }));
  });

  it('succeeds, runs every deploy stage and both test stages, and skips Rollback', async () => {
    expect(build.result).toBe('SUCCESS');
    expect(await stages(n)).toMatchObject({
      Checkout: 'SUCCESS',
      'Pre-flight': 'SUCCESS',
      'Build & Unit Tests': 'SUCCESS',
      Package: 'SUCCESS',
      'Config Transform': 'SUCCESS',
      'Transfer Artifact': 'SUCCESS',
      'Stop IIS Pools': 'SUCCESS',
      'Backup & Deploy': 'SUCCESS',
      'Start IIS + Smoke': 'SUCCESS',
      Rollback: 'NOT_EXECUTED',
      'Tests: API': 'SUCCESS',
      'Tests: E2E': 'SUCCESS',
      'Declarative: Post Actions': 'SUCCESS',
    });
    expect(sb.devtestRequestCount()).toBeGreaterThan(before);
  });

  it('archives every contract artifact under reports/ (rollback.json only when a rollback ran)', async () => {
    const paths: string[] = build.artifacts.map((a: any) => a.relativePath);
    for (const pattern of contract.artifacts) {
      if (pattern === 'rollback.json' || pattern === 'summary.json') continue;
      const re = new RegExp(`^reports/${pattern.replace(/\./g, '\\.').replace(/\*/g, '[^/]+')}$`);
      expect(paths.some((p) => re.test(p)), `${pattern} archived`).toBe(true);
    }
    expect(paths).not.toContain('reports/rollback.json');
    expect(paths.some((p) => /^reports\/smoke_smoke_\d{8}_\d{6}\.log$/.test(p))).toBe(true);
  });

  it('prints a declarative-pipeline console whose script lines carry the stage id of the stage they run in', async () => {
    const log = await consoleText(sb, n);
    const lines = log.split('\n');
    for (const l of ['Started by user qa-bot', '[Pipeline] Start of Pipeline', '[Pipeline] node', '[Pipeline] { (Checkout)', '[Pipeline] stage', '[Pipeline] // stage', '[Pipeline] parallel', '[Pipeline] { (Branch: Tests: API)', '[Pipeline] End of Pipeline']) {
      expect(lines).toContain(l);
    }
    expect(lines.filter(Boolean).pop()).toBe('Finished: SUCCESS');
    let current: string | null = null;
    let marked = 0;
    for (const line of lines) {
      const open = /^\[Pipeline\] \{ \((.+)\)$/.exec(line);
      if (open) {
        current = open[1]!.startsWith('Branch: ') ? current : open[1]!;
        continue;
      }
      const m = /^\[([a-z0-9_]+)\] /.exec(line);
      if (!m || line.startsWith('[Pipeline]')) continue;
      marked++;
      const inParallel = current === 'Tests: API' || current === 'Tests: E2E';
      // The parallel branches interleave, so inside them either branch's id may appear.
      if (inParallel) expect(['api', 'e2e']).toContain(m[1]);
      else expect(m[1], line).toBe(idOfStage.get(current ?? ''));
    }
    expect(marked).toBeGreaterThan(40);
  });

  it('builds a real zip whose SHA-256 and size are those in artifact.json and deploy-manifest.json', async () => {
    const meta = await artifactJson(sb, n, 'reports/artifact.json');
    const zip = await artifact(sb, n, `artifact/${meta.name}`);
    expect(meta.name).toBe('WeSign.DevTest.zip');
    expect(meta.sha256).toBe(createHash('sha256').update(zip).digest('hex'));
    expect(meta.bytes).toBe(zip.length);
    expect(meta.source).toMatchObject({ name: 'WeSign.zip' });
    expect(meta.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    const entries = await zipEntries(zip);
    const settings = JSON.parse(entries.get('appsettings.json')!.toString('utf8'));
    expect(settings.Environment).toBe('DevTest');
    const manifest = await artifactJson(sb, n, 'reports/deploy-manifest.json');
    expect(manifest.artifact_sha256).toBe(meta.sha256);
    expect(manifest.backup_id).toMatch(/^\d{8}_\d{6}$/);
    expect(manifest.backup_path).toBe(`C:\\backup\\WeSign\\${manifest.backup_id}`);
    expect(manifest).toMatchObject({ deploy_dir: 'C:\\inetpub\\WeSign', migrations_ran: false, ok: true, artifact_name: 'WeSign.DevTest.zip', pools: ['UserApi', 'SignerApi', 'ManagementApi', 'DefaultAppPool', 'PdfConvertorService'] });
    expect(Date.parse(manifest.finished_at)).toBeGreaterThanOrEqual(Date.parse(manifest.started_at));
  });

  it('deploys the checked-out commit to the simulated DevTest, after backing up the previous one', async () => {
    const checkout = await artifactJson(sb, n, 'reports/checkout.json');
    expect(checkout).toMatchObject({ branch_or_tag: 'main', repo: 'https://gitlab.comda.co.il/comsigntrust/comsigntrustcms.git' });
    expect(checkout.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(sb.deployedVersion()).toBe(checkout.commit);
    expect(previous).not.toBe(checkout.commit);
    const version = (await (await fetch(`${sb.devtestUrl}/api/version`)).json()) as { commit: string };
    expect(version.commit).toBe(checkout.commit);
    const smoke = await artifactJson(sb, n, 'reports/smoke.json');
    expect(smoke).toMatchObject({ ok: true, healthy: 2, total: 2, label: 'smoke' });
    expect(smoke.urls.map((u: any) => u.url)).toEqual(['http://DevTest/health', 'http://DevTest/WeSignManagement/health']);
    for (const u of smoke.urls) expect(u).toMatchObject({ ok: true, status: 200, attempts: 1 });
  });

  it('writes newman.json from the real Newman run, agreeing with newman.html', async () => {
    const report = await artifactJson(sb, n, 'reports/newman.json');
    const html = (await artifact(sb, n, 'reports/newman.html')).toString('utf8');
    const stats = report.run.stats;
    expect(report.collection.info.name).toMatch(/WeSign/);
    expect(stats.requests.total).toBe(5);
    expect(stats.assertions.failed).toBe(0);
    expect(report.run.executions[0].response.code).toBe(200);
    const shown = (label: string) => Number(new RegExp(`${label}</h6>\\s*<h1[^>]*>\\s*(\\d+)`, 'i').exec(html)?.[1]);
    expect(shown('Total Assertions')).toBe(stats.assertions.total);
    expect(shown('Total Failed Tests')).toBe(stats.assertions.failed);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('writes JUnit XML as pytest does, agreeing with playwright.html', async () => {
    const doc = xml.parse((await artifact(sb, n, 'reports/e2e-junit.xml')).toString('utf8'));
    const suite = doc.testsuites.testsuite;
    expect(suite['@name']).toBe('pytest');
    const cases = Array.isArray(suite.testcase) ? suite.testcase : [suite.testcase];
    expect(Number(suite['@tests'])).toBe(cases.length);
    const skipped = cases.filter((c: any) => c.skipped !== undefined).length;
    expect(Number(suite['@skipped'])).toBe(skipped);
    expect(Number(suite['@failures'])).toBe(0);
    const html = (await artifact(sb, n, 'reports/playwright.html')).toString('utf8');
    expect(html).toContain('pytest-html');
    const count = (k: string) => Number(new RegExp(`<span class="${k}">(\\d+) `).exec(html)?.[1]);
    expect(count('passed')).toBe(cases.length - skipped);
    expect(count('skipped')).toBe(skipped);
    expect(count('failed')).toBe(0);
    expect((html.match(/<tbody class="(passed|failed|skipped|error) results-table-row">/g) ?? []).length).toBe(cases.length);
  });

  it('writes TRX in the shape dotnet test --logger trx writes it', async () => {
    const text = (await artifact(sb, n, 'reports/trx/unit.trx')).toString('utf8');
    const doc = xml.parse(text.replace(/^\ufeff/, ''));
    const run = doc.TestRun;
    const results = run.Results.UnitTestResult as any[];
    const counters = run.ResultSummary.Counters;
    expect(Number(counters['@total'])).toBe(results.length);
    expect(Number(counters['@passed'])).toBe(results.filter((r) => r['@outcome'] === 'Passed').length);
    expect(Number(counters['@failed'])).toBe(0);
    expect(run.TestDefinitions.UnitTest).toHaveLength(results.length);
    expect(run.ResultSummary['@outcome']).toBe('Completed');
  });
});

describe('a dry run', () => {
  it('runs checkout to config without one request to DevTest and leaves the deployed version alone', async () => {
    const before = sb.devtestRequestCount();
    const version = sb.deployedVersion();
    const { n, build } = await runBuild(sb, { DRY_RUN: 'true', TEST_SUITE: 'full', QA_RUN_ID: 'dry-zero' });
    expect(build.result).toBe('SUCCESS');
    expect(sb.devtestRequestCount()).toBe(before);
    expect(sb.deployedVersion()).toBe(version);
    const paths: string[] = build.artifacts.map((a: any) => a.relativePath);
    expect(paths).toEqual(expect.arrayContaining(['reports/checkout.json', 'reports/preflight.json', 'reports/trx/unit.trx', 'reports/artifact.json', 'artifact/WeSign.DevTest.zip']));
    for (const absent of ['reports/deploy-manifest.json', 'reports/smoke.json', 'reports/newman.json', 'reports/e2e-junit.xml']) expect(paths).not.toContain(absent);
    const pre = await artifactJson(sb, n, 'reports/preflight.json');
    expect(pre).toMatchObject({ ok: true, local_only: true });
    expect(pre.checks.map((c: any) => c.id)).not.toContain('winrm_session');
    const log = await consoleText(sb, n);
    for (const s of ['Transfer Artifact', 'Stop IIS Pools', 'Backup & Deploy', 'Start IIS + Smoke', 'Rollback', 'Tests: API', 'Tests: E2E']) {
      expect(log).toContain(`Stage "${s}" skipped due to when conditional`);
    }
  });
});

describe('TEST_SUITE', () => {
  it('api runs only Tests: API; none runs neither', async () => {
    const api = await runBuild(sb, { TEST_SUITE: 'api', QA_RUN_ID: 'suite-api' });
    expect(await stages(api.n)).toMatchObject({ 'Tests: API': 'SUCCESS', 'Tests: E2E': 'NOT_EXECUTED' });
    const none = await runBuild(sb, { TEST_SUITE: 'none', QA_RUN_ID: 'suite-none' });
    expect(await stages(none.n)).toMatchObject({ 'Start IIS + Smoke': 'SUCCESS', 'Tests: API': 'NOT_EXECUTED', 'Tests: E2E': 'NOT_EXECUTED' });
    expect(none.build.artifacts.map((a: any) => a.relativePath)).not.toContain('reports/newman.html');
  });
});

describe('ACTION=rollback', () => {
  it('runs only Pre-flight and Rollback (with re-smoke), restoring ROLLBACK_TO or the newest backup', async () => {
    const first = await runBuild(sb, { TEST_SUITE: 'none', QA_RUN_ID: 'deploy-a' });
    const firstBackup = (await artifactJson(sb, first.n, 'reports/deploy-manifest.json')).backup_id as string;
    const before = sb.deployedVersion(); // what deploy-a's backup holds
    const firstCommit = sb.deployedVersion();
    const second = await runBuild(sb, { TEST_SUITE: 'none', QA_RUN_ID: 'deploy-b' });
    const secondBackup = (await artifactJson(sb, second.n, 'reports/deploy-manifest.json')).backup_id as string;
    expect(sb.deployedVersion()).not.toBe(firstCommit);

    const rb = await runBuild(sb, { ACTION: 'rollback', ROLLBACK_TO: secondBackup, QA_RUN_ID: 'rollback-1' });
    expect(rb.build.result).toBe('SUCCESS');
    expect(rb.build.description).toBe(`QA_RUN_ID=rollback-1 | rollback main | SUCCESS, rolled back to ${secondBackup}`);
    expect(sb.deployedVersion()).toBe(firstCommit); // deploy-b's backup holds deploy-a's version
    expect(await stages(rb.n)).toMatchObject({
      Checkout: 'NOT_EXECUTED',
      'Pre-flight': 'SUCCESS',
      'Build & Unit Tests': 'NOT_EXECUTED',
      'Backup & Deploy': 'NOT_EXECUTED',
      'Start IIS + Smoke': 'NOT_EXECUTED', // contract: the re-smoke runs inside Rollback
      Rollback: 'SUCCESS',
      'Tests: API': 'NOT_EXECUTED',
    });
    const rollback = await artifactJson(sb, rb.n, 'reports/rollback.json');
    expect(rollback).toMatchObject({ backup_id: secondBackup, smoke_ok: true });
    expect(Date.parse(rollback.restored_at)).not.toBeNaN();
    expect(rollback.pools).toHaveLength(5);
    // The re-smoke of a rollback run is the run's smoke.json (contract note on the smoke stage).
    expect(await artifactJson(sb, rb.n, 'reports/smoke.json')).toMatchObject({ ok: true, healthy: 2, total: 2 });

    const older = await runBuild(sb, { ACTION: 'rollback', ROLLBACK_TO: firstBackup });
    expect(older.build.result).toBe('SUCCESS');
    expect(sb.deployedVersion()).not.toBe(before);

    const missing = await runBuild(sb, { ACTION: 'rollback', ROLLBACK_TO: '19990101_000000' });
    expect(missing.build.result).toBe('FAILURE');
    expect(await stages(missing.n)).toMatchObject({ Rollback: 'FAILED' });
    expect(await consoleText(sb, missing.n)).toContain('Backup 19990101_000000 not found');
  });
});
