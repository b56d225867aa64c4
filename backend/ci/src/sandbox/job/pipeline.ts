/**
 * The emulated WeSign-CI job: what the repository's declarative Jenkinsfile
 * does, stage by stage, with Jenkins-style console output, the stage markers
 * `[<stage id>] ` of DESIGN §3 on every script line, per-stage pacing, and the
 * contract's artifacts under `reports/` written in the real formats.
 *
 * Stage names, ids, the parallel group and the dry-run / rollback behaviour
 * come from contract/pipeline.json. `when` decisions follow the contract:
 * a stage runs when it runs in the mode (`dryRun`, `rollbackAction`); the
 * Rollback stage additionally only after a failed smoke (or for ACTION=rollback),
 * and the test stages only for the TEST_SUITE that selects them.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stageById, type PipelineContract } from '../contract.js';
import type { SimulatedDevTest, Backup } from '../devtest.js';
import { backupId } from '../devtest.js';
import type { FaultState } from '../faults.js';
import type { BuildContext } from '../jenkins/server.js';
import type { Result, StageRecord } from '../jenkins/model.js';
import { writeAppZip } from './artifact_zip.js';
import { runNewman } from './newman.js';
import { renderJunit, renderPytestHtml, renderTrx, type E2eResult, type UnitTest } from './reports.js';

/** The SPEC variables the Jenkinsfile carries as constants (SPEC.md "Fill these variables"). */
export interface PipelineEnv {
  appName: string;
  envName: string;
  gitRepoUrl: string;
  credentialsId: string;
  devtestServer: string;
  iisAppPools: string[];
  deployDir: string;
  deployStaging: string;
  backupRoot: string;
  artifactName: string;
  postmanCollection: string;
  postmanEnv: string;
  pytestE2eDir: string;
  smokeUrls: string[];
  artifactStore: string;
}

export const SPEC_ENV: PipelineEnv = {
  appName: 'WeSign',
  envName: 'DevTest',
  gitRepoUrl: 'https://gitlab.comda.co.il/comsigntrust/comsigntrustcms.git',
  credentialsId: 'svc-devtest',
  devtestServer: 'DevTest',
  iisAppPools: ['UserApi', 'SignerApi', 'ManagementApi', 'DefaultAppPool', 'PdfConvertorService'],
  deployDir: 'C:\\inetpub\\WeSign',
  deployStaging: 'C:\\deploy',
  backupRoot: 'C:\\backup\\WeSign',
  artifactName: 'WeSign.DevTest.zip',
  postmanCollection: 'postman/collection.json',
  postmanEnv: 'postman/devtest_env.json',
  pytestE2eDir: 'tests/e2e',
  smokeUrls: ['http://DevTest/health', 'http://DevTest/WeSignManagement/health'],
  artifactStore: 'reports',
};

export interface PipelineDeps {
  contract: PipelineContract;
  devtest: SimulatedDevTest;
  faults: FaultState;
  /** 1 = a full run takes about a minute; 0.02 in tests. */
  timeScale: number;
  env: PipelineEnv;
  /** Where postman/ and backend/ci/src/ci/report_aggregator.ts are looked up. */
  repoRoot: string;
}

/** Stage durations at timeScale 1, in ms (a full deploy with both suites ≈ 60 s). */
const PACE: Record<string, number> = {
  checkout: 3000,
  preflight: 4000,
  build: 14000,
  package: 4000,
  config: 2500,
  transfer: 5000,
  'deploy:0': 2500,
  'deploy:1': 6000,
  smoke: 3000,
  rollback: 6000,
  api: 8000,
  e2e: 10000,
  report: 2000,
};

/** As scripts/ps/smoke.ps1 -Retries 3 -BackoffSeconds 2: one try plus up to 3 retries, waiting 2 s, 4 s, 8 s (scaled). */
const SMOKE_RETRIES = 3;
const SMOKE_BACKOFF_MS = 2000;

class AbortedError extends Error {}
/** A script step that failed: fails the stage and, unless caught, the build. */
class StepFailure extends Error {}

/** smoke.json as scripts/ps/smoke.ps1 writes it, plus `target` (where the sandbox sent the URL). */
interface SmokeOutcome {
  urls: { url: string; ok: boolean; status: number | null; attempts: number; ms: number | null; error: string | null; target: string }[];
  ok: boolean;
  healthy: number;
  total: number;
  label: string;
  started_at: string;
  finished_at: string;
}

export function createPipelineRunner(deps: PipelineDeps): (ctx: BuildContext) => Promise<Result> {
  return (ctx) => new PipelineRun(deps, ctx).run();
}

const stamp = (d = new Date()) => backupId(d);

class PipelineRun {
  private node = 1;
  private result: Result = 'SUCCESS';
  /** Set by a stage failure that was not caught: later stages are skipped "due to earlier failure(s)". */
  private hardFailure: string | null = null;
  private smokeFailed = false;
  /** The Tests parent was skipped: its branches are walked as skipped too. */
  private testsSkipped = false;
  private inPost = false;
  private readonly reports: string;
  private readonly p: { branch: string; dryRun: boolean; suite: string; action: string; rollbackTo: string; runId: string };
  private commit = '';
  private version = '';
  private artifactSha = '';
  private deployBackup: Backup | null = null;
  private rollbackResult: 'ok' | 'failed' | null = null;
  private packageInfo: { name: string; sha256: string; bytes: number } | null = null;
  private rollbackBackupId: string | null = null;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly ctx: BuildContext,
  ) {
    this.reports = path.join(ctx.workspaceDir, deps.env.artifactStore);
    mkdirSync(this.reports, { recursive: true });
    const v = ctx.params;
    this.p = {
      branch: String(v.BRANCH_OR_TAG ?? 'main'),
      dryRun: v.DRY_RUN === true || v.DRY_RUN === 'true',
      suite: String(v.TEST_SUITE ?? 'full'),
      action: String(v.ACTION ?? 'deploy'),
      rollbackTo: String(v.ROLLBACK_TO ?? ''),
      runId: String(v.QA_RUN_ID ?? ''),
    };
  }

  private get log() {
    return this.ctx.build.log;
  }

  private pipe(text: string): number {
    this.log.pipeline(text);
    return ++this.node;
  }

  private name(id: string, index = 0): string {
    const names = stageById(this.deps.contract, id).jenkins;
    const n = names[index];
    if (!n) throw new Error(`contract/pipeline.json: stage "${id}" has no Jenkins stage name #${index + 1}`);
    return n;
  }

  private async sleep(ms: number): Promise<void> {
    const scaled = ms * this.deps.timeScale;
    const signal = this.ctx.signal;
    if (this.ctx.build.hardKilled) throw new AbortedError('killed');
    if (signal.aborted && !this.inPost) throw new AbortedError('aborted');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, scaled));
      const onAbort = () => {
        if (this.inPost) return;
        clearTimeout(t);
        reject(new AbortedError('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  // ------------------------------------------------------------------ stages

  /** Does the stage's `when` pass? (contract + parameters). */
  private planned(id: string): boolean {
    const s = stageById(this.deps.contract, id);
    if (this.p.dryRun && s.dryRun !== 'runs') return false;
    if (this.p.action === 'rollback' && s.rollbackAction !== 'runs') return false;
    if (id === 'rollback') return this.p.action === 'rollback' || this.smokeFailed;
    // After a failed smoke the tests would test the restored version: the Jenkinsfile's `when` excludes them.
    if (id === 'api') return !this.testsSkipped && !this.smokeFailed && (this.p.suite === 'api' || this.p.suite === 'full');
    if (id === 'e2e') return !this.testsSkipped && !this.smokeFailed && (this.p.suite === 'e2e' || this.p.suite === 'full');
    return true;
  }

  private async stage(id: string, jenkinsName: string, body: (say: (text: string) => void, rec: StageRecord) => Promise<void>, opts: { caught?: boolean } = {}): Promise<void> {
    this.pipe('stage');
    const nodeId = this.pipe(`{ (${jenkinsName})`);
    const rec: StageRecord = { id: String(nodeId), stepId: String(nodeId + 1), name: jenkinsName, status: 'IN_PROGRESS', startTimeMillis: Date.now(), durationMillis: 0, text: '' };
    this.ctx.build.stages.push(rec);
    const close = () => {
      rec.durationMillis = Date.now() - rec.startTimeMillis;
      this.pipe('}');
      this.pipe('// stage');
      this.ctx.checkpoint();
    };
    if (this.hardFailure) {
      // Declarative: once the build failed, later stages are skipped (StageStatus.FAILED_AND_CONTINUED … ; wfapi NOT_EXECUTED).
      this.log.line(`Stage "${jenkinsName}" skipped due to earlier failure(s)`);
      rec.status = 'NOT_EXECUTED';
      return close();
    }
    if (!this.planned(id)) {
      this.log.line(`Stage "${jenkinsName}" skipped due to when conditional`);
      rec.status = 'NOT_EXECUTED';
      return close();
    }
    const say = (text: string) => {
      for (const line of text.split('\n')) {
        const marked = `[${id}] ${line}`;
        this.log.line(marked);
        rec.text += `${marked}\n`;
      }
    };
    try {
      await body(say, rec);
      if (rec.status === 'IN_PROGRESS') rec.status = 'SUCCESS';
    } catch (err) {
      if (err instanceof AbortedError) {
        rec.status = 'ABORTED';
        close();
        throw err;
      }
      const message = err instanceof StepFailure ? err.message : `${(err as Error).name}: ${(err as Error).message}`;
      rec.status = 'FAILED';
      rec.error = { message, type: err instanceof StepFailure ? 'hudson.AbortException' : 'java.lang.Exception' };
      if (opts.caught) {
        // catchError(buildResult: 'FAILURE', stageResult: 'FAILURE'): the stage fails, the pipeline goes on.
        this.log.line(`ERROR: ${message}`);
      } else {
        this.hardFailure = message;
        this.worsen('FAILURE');
      }
    }
    close();
  }

  private worsen(r: Result): void {
    const order: Result[] = ['SUCCESS', 'UNSTABLE', 'FAILURE', 'NOT_BUILT', 'ABORTED'];
    if (order.indexOf(r) > order.indexOf(this.result)) this.result = r; // Run.setResult: only gets worse
  }

  /** Prints lines spread over a stage's paced duration, so live following is meaningful. */
  private async paced(key: string, say: (t: string) => void, lines: string[], shareOfStage = 1): Promise<void> {
    const total = (PACE[key] ?? 2000) * shareOfStage;
    const each = total / Math.max(1, lines.length);
    for (const l of lines) {
      say(l);
      await this.sleep(each);
    }
  }

  private writeReport(rel: string, content: string | Buffer): void {
    const file = path.join(this.reports, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }

  private json(rel: string, value: unknown): void {
    this.writeReport(rel, `${JSON.stringify(value, null, 2)}\n`);
  }

  // ------------------------------------------------------------------ the run

  async run(): Promise<Result> {
    const b = this.ctx.build;
    const env = this.deps.env;
    this.log.line(`Started by user ${this.log.link(b.causeUser)}`);
    this.log.line(`Obtained Jenkinsfile from git ${env.gitRepoUrl}`);
    if (/^[A-Za-z0-9-]{1,64}$/.test(this.p.runId)) {
      // As the Jenkinsfile does before the pipeline starts (ref §12): makes the recovery lookup cheap.
      b.displayName = `#${b.number} ${this.p.runId}`;
      this.ctx.checkpoint();
    }
    this.pipe('Start of Pipeline');
    this.pipe('node');
    this.log.line(`Running on win-agent-01 in C:\\Jenkins\\workspace\\${this.ctx.job.name}`);
    this.pipe('{');
    this.pipe('lock');
    this.log.line('Trying to acquire lock on [Resource: WeSign-DevTest]');
    this.log.line('Lock acquired on [Resource: WeSign-DevTest]');
    this.pipe('{');
    this.pipe('timeout');
    this.log.line('Timeout set to expire in 1 hr 0 min');
    this.pipe('{');
    let aborted = false;
    try {
      await this.stages();
    } catch (err) {
      if (!(err instanceof AbortedError)) throw err;
      aborted = true;
      this.log.line('Sending interrupt signal to process');
      this.worsen('ABORTED');
    }
    if (!b.hardKilled) {
      this.inPost = true;
      await this.post(aborted);
      this.pipe('}');
      this.pipe('// timeout');
      this.pipe('}');
      this.pipe('// lock');
      this.pipe('}');
      this.pipe('// node');
      this.pipe('End of Pipeline');
      if (this.hardFailure && !aborted) this.log.line(`ERROR: ${this.hardFailure}`);
      this.log.line(`Finished: ${this.result}`);
    }
    return this.result;
  }

  private async stages(): Promise<void> {
    await this.stage('checkout', this.name('checkout'), (say) => this.checkout(say));
    await this.stage('preflight', this.name('preflight'), (say) => this.preflight(say));
    await this.stage('build', this.name('build'), (say) => this.buildAndTest(say));
    await this.stage('package', this.name('package'), (say) => this.package(say));
    await this.stage('config', this.name('config'), (say) => this.configTransform(say));
    await this.stage('transfer', this.name('transfer'), (say) => this.transfer(say));
    await this.stage('deploy', this.name('deploy', 0), (say) => this.stopPools(say));
    await this.stage('deploy', this.name('deploy', 1), (say) => this.backupAndDeploy(say));
    await this.stage('smoke', this.name('smoke'), (say) => this.startAndSmoke(say), { caught: true });
    await this.stage('rollback', this.name('rollback'), (say) => this.rollback(say));
    await this.tests();
  }

  // ------------------------------------------------------------------ stage bodies

  private async checkout(say: (t: string) => void): Promise<void> {
    const env = this.deps.env;
    // A branch moves on: each build sees a new commit (deterministic per build number).
    this.commit = createHash('sha1').update(`${this.p.branch}#${this.ctx.build.number}`).digest('hex');
    this.version = `1.0.${this.ctx.build.number}`;
    this.pipe('checkout');
    this.log.line('The recommended git tool is: NONE');
    this.log.line(`using credential ${env.credentialsId}-git`);
    await this.paced('checkout', say, [
      `git fetch --tags --force --progress -- ${env.gitRepoUrl} +refs/heads/*:refs/remotes/origin/*`,
      `Checking out Revision ${this.commit} (origin/${this.p.branch})`,
      `git checkout -f ${this.commit}`,
      `Commit message: "WeSign ${this.version} (sandbox build ${this.ctx.build.number})"`,
    ]);
    this.json('checkout.json', { commit: this.commit, branch_or_tag: this.p.branch, commit_time: new Date(Date.now() - 3_600_000).toISOString(), repo: env.gitRepoUrl });
  }

  private async preflight(say: (t: string) => void): Promise<void> {
    const env = this.deps.env;
    const faults = this.deps.faults.get();
    const started = new Date().toISOString();
    const remote = !this.p.dryRun;
    this.pipe('powershell');
    say(`Pre-flight for ${env.appName} on ${env.envName} (${remote ? 'full' : 'local checks only: dry run'})`);
    if (faults.secret_leak) {
      // Fault secret_leak: a careless script echoes secret-shaped strings. Both values are fake.
      say('Using connection string Server=sql-devtest.example;Database=WeSign;User Id=wesign_app;Password=FakeLeak-Passw0rd-not-real;');
      say('Invoke-WebRequest -Headers @{ Authorization = "Bearer fake-leaked-token-0123456789abcdef" } -Uri http://DevTest/health');
    }
    // preflight.json as scripts/ps/preflight.ps1 writes it: { checks: [{ id, ok, detail, hint }], ok, computer, local_only, … }.
    const checks: { id: string; ok: boolean; detail: string; hint: string }[] = [];
    const check = async (id: string, ok: boolean, detail: string, hint: string) => {
      checks.push({ id, ok, detail, hint: ok ? '' : hint });
      say(`${ok ? 'ok  ' : 'FAIL'} ${id}: ${detail}`);
      await this.sleep((PACE.preflight ?? 4000) / 10);
    };
    const localFault = faults.preflight_fail && !remote;
    await check('inputs', true, `${env.iisAppPools.length} app pool(s): ${env.iisAppPools.join(', ')}`, '');
    await check('paths', true, `DEPLOY_DIR ${env.deployDir}, BACKUP_ROOT ${env.backupRoot}, STAGING ${env.deployStaging}`, '');
    for (const [tool, version] of [['dotnet', '8.0.404'], ['git', '2.47.1.windows.1'], ['node', 'v20.18.1'], ['py', 'Python 3.11.9']] as const) {
      await check(`tool_${tool}`, true, `${tool} ${version}`, '');
    }
    await check(
      'local_disk',
      !localFault,
      localFault ? 'C:\\: 412 MB free, 5,120 MB needed (sandbox fault preflight_fail)' : 'C:\\: 115,088 MB free, 5,120 MB needed',
      'Free space in the Jenkins workspace drive (old builds, workspace cleanup) or lower -LocalMinFreeMB.',
    );
    if (remote) {
      let iis = 'no answer';
      let iisOk = false;
      try {
        // "IIS reach": a real request to the simulated DevTest (a dry run never gets here).
        const r = await fetch(`${this.deps.devtest.url}/`, { signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        iisOk = true;
        iis = `HTTP ${r.status} from ${r.headers.get('server') ?? 'IIS'}`;
      } catch (err) {
        iis = (err as Error).message;
      }
      await check('tcp_smb', true, `TCP 445 (SMB) on ${env.devtestServer}: open`, `Allow TCP 445 from the Jenkins server to ${env.devtestServer} only (firewall), and check the name resolves.`);
      await check('tcp_winrm', true, `TCP 5986 (WinRM) on ${env.devtestServer}: open`, `Allow TCP 5986 from the Jenkins server and create a WinRM HTTPS listener on ${env.devtestServer}.`);
      await check(
        'winrm_session',
        !faults.preflight_fail,
        faults.preflight_fail
          ? `Connecting to remote server ${env.devtestServer} failed: WinRM cannot complete the operation (sandbox fault preflight_fail)`
          : 'WinRM session opened on port 5986: the credential works',
        `Check the Jenkins credential ${env.credentialsId} (user, password, domain) and that it may open a WinRM session on ${env.devtestServer}.`,
      );
      if (faults.preflight_fail) {
        await check('target_checks', false, 'IIS, services, app pools and disk on the server not checked: no WinRM session', 'Fix winrm_session first.');
      } else {
        await check('iis_module', iisOk, iisOk ? `WebAdministration module available; the site answers (${iis})` : `IIS did not answer: ${iis}`, 'Install the IIS management scripts and tools (WebAdministration) on the server.');
        await check('services', true, 'W3SVC Running, WAS Running', '');
        await check('app_pools', true, `${env.iisAppPools.length} of ${env.iisAppPools.length} app pools exist`, '');
        await check('target_disk', true, `C: on ${env.devtestServer}: 48,211 MB free, 1,024 MB needed`, '');
      }
    }
    const ok = checks.every((c) => c.ok);
    this.json('preflight.json', { checks, ok, computer: env.devtestServer, local_only: !remote, started_at: started, finished_at: new Date().toISOString() });
    if (!ok) throw new StepFailure('script returned exit code 1');
  }

  /**
   * Fault console_flood_mb: `mb` MB of MSBuild-like output written at once, short and long lines
   * (some over 16 K characters, some non-ASCII), so the backend gets one huge progressiveText reply.
   */
  private floodConsole(mb: number): void {
    const target = Math.round(mb * 1024 * 1024);
    const project = 'C:\\Jenkins\\workspace\\WeSign-CI\\src\\WeSign.SignerApi\\WeSign.SignerApi.csproj';
    let written = 0;
    let n = 0;
    while (written < target) {
      const lines: string[] = [];
      let block = 0;
      while (block < 1024 * 1024 && written + block < target) {
        n++;
        const line =
          n % 997 === 0
            ? `[build] warning CS8618: ${'Non-nullable property must contain a non-null value when exiting constructor. '.repeat(260)}[${project}]`
            : n % 7 === 0
              ? `[build]   WeSign.SignerApi -> C:\\Jenkins\\workspace\\WeSign-CI\\out\\WeSign.SignerApi.dll (${n}) — חתימה ✓`
              : `[build]   Compiling ${n}: ${'src/WeSign.SignerApi/Services/DocumentSigningService.cs(42,17): '.repeat(1 + (n % 5))}`;
        lines.push(line);
        block += Buffer.byteLength(line) + 1;
      }
      this.log.write(`${lines.join('\n')}\n`);
      written += block;
    }
  }

  private async buildAndTest(say: (t: string) => void): Promise<void> {
    const fail = this.deps.faults.get().build_fail;
    this.pipe('bat');
    // A line written in two parts, as a tool printing progress does: progressiveText holds the partial line back.
    this.log.write('[build] Determining projects to restore...');
    await this.sleep((PACE.build ?? 14000) / 10);
    this.log.write(' done.\n');
    const flood = this.deps.faults.get().console_flood_mb;
    if (flood > 0) this.floodConsole(flood);
    await this.paced('build', say, ['dotnet restore WeSign.sln', '  Restored C:\\Jenkins\\workspace\\WeSign-CI\\src\\WeSign.UserApi\\WeSign.UserApi.csproj (in 2.1 sec).', 'dotnet build WeSign.sln -c Release --no-restore', '  Build succeeded.', '      0 Warning(s)', '      0 Error(s)'], 0.5);
    const started = new Date();
    const tests: UnitTest[] = [
      ['WeSign.UserApi.Tests.AuthControllerTests', 'Login_WithValidCredentials_ReturnsToken'],
      ['WeSign.UserApi.Tests.AuthControllerTests', 'Login_WithWrongPassword_Returns401'],
      ['WeSign.UserApi.Tests.UsersServiceTests', 'CreateUser_RejectsDuplicateEmail'],
      ['WeSign.UserApi.Tests.UsersServiceTests', 'CreateUser_HashesPassword'],
      ['WeSign.SignerApi.Tests.SigningFlowTests', 'Sign_PdfDocument_AddsSignatureField'],
      ['WeSign.SignerApi.Tests.SigningFlowTests', 'Sign_ExpiredLink_IsRejected'],
      ['WeSign.SignerApi.Tests.SigningFlowTests', 'Sign_TwoSigners_KeepsOrder'],
      ['WeSign.Management.Tests.TemplatesTests', 'Template_Save_RoundTrips'],
      ['WeSign.Management.Tests.TemplatesTests', 'Template_Delete_RequiresAdmin'],
      ['WeSign.PdfConvertor.Tests.ConvertTests', 'Docx_ConvertsToPdfA'],
      ['WeSign.PdfConvertor.Tests.ConvertTests', 'Image_ConvertsToPdf'],
      ['WeSign.PdfConvertor.Tests.ConvertTests', 'Convert_LargeFile_WithinLimit'],
    ].map(([className, name], i) => ({ className: className!, name: name!, outcome: 'Passed' as const, durationMs: 5 + ((i * 37) % 90) }));
    tests[11] = { ...tests[11]!, outcome: 'NotExecuted' };
    if (fail) {
      for (const i of [1, 5]) {
        const t = tests[i]!;
        tests[i] = {
          ...t,
          outcome: 'Failed',
          message: `Assert.AreEqual failed. Expected:<401>. Actual:<500>. (sandbox fault build_fail)`,
          stackTrace: `   at ${t.className}.${t.name}() in C:\\Jenkins\\workspace\\WeSign-CI\\tests\\${t.className.split('.')[1]}.Tests\\${t.className.split('.').pop()}.cs:line ${40 + i}`,
        };
      }
    }
    const passed = tests.filter((t) => t.outcome === 'Passed').length;
    const failed = tests.filter((t) => t.outcome === 'Failed').length;
    const skipped = tests.filter((t) => t.outcome === 'NotExecuted').length;
    say('dotnet test WeSign.sln -c Release --no-build --logger "trx;LogFileName=unit.trx" --results-directory reports\\trx');
    for (const t of tests.filter((x) => x.outcome === 'Failed')) say(`  Failed ${t.name} [${t.durationMs} ms]\n  Error Message:\n   ${t.message}`);
    await this.paced('build', say, [`Results File: C:\\Jenkins\\workspace\\WeSign-CI\\reports\\trx\\unit.trx`], 0.5);
    const summary = `${failed ? 'Failed!' : 'Passed!'}  - Failed:     ${failed}, Passed:    ${passed}, Skipped:     ${skipped}, Total:    ${tests.length}, Duration: 2 s - WeSign.Tests.dll (net8.0)`;
    say(summary);
    this.writeReport(
      'trx/unit.trx',
      renderTrx({ tests, start: started, finish: new Date(), computer: 'WIN-AGENT-01', storage: 'C:\\Jenkins\\workspace\\WeSign-CI\\tests\\bin\\Release\\net8.0\\WeSign.Tests.dll', stdout: `Test 'Convert_LargeFile_WithinLimit' was skipped in the test run.\n` }),
    );
    if (failed) throw new StepFailure('script returned exit code 1');
  }

  private zipPath(name: string): string {
    const dir = path.join(this.ctx.workspaceDir, 'artifact');
    mkdirSync(dir, { recursive: true });
    return path.join(dir, name);
  }

  private async package(say: (t: string) => void): Promise<void> {
    this.pipe('powershell');
    say('dotnet publish src\\WeSign.UserApi -c Release -o publish --no-build');
    await this.sleep((PACE.package ?? 4000) / 2);
    const info = await writeAppZip(this.zipPath(`${this.deps.env.appName}.zip`), { commit: this.commit || 'unknown', branch: this.p.branch, version: this.version || 'unknown', env: null });
    say(`Compress-Archive -Path publish\\* -DestinationPath artifact\\${this.deps.env.appName}.zip`);
    say(`artifact\\${this.deps.env.appName}.zip ${info.bytes} bytes, sha256 ${info.sha256}`);
    this.packageInfo = { name: `${this.deps.env.appName}.zip`, sha256: info.sha256, bytes: info.bytes };
    this.json('artifact.json', this.packageInfo);
    await this.sleep((PACE.package ?? 4000) / 2);
  }

  private async configTransform(say: (t: string) => void): Promise<void> {
    const env = this.deps.env;
    this.pipe('bat');
    say(`py scripts/appsettings_patch.py --env ${env.envName} --input artifact\\${env.appName}.zip --output artifact\\${env.artifactName}`);
    await this.sleep((PACE.config ?? 2500) / 2);
    const info = await writeAppZip(this.zipPath(env.artifactName), { commit: this.commit || 'unknown', branch: this.p.branch, version: this.version || 'unknown', env: env.envName });
    this.artifactSha = info.sha256;
    say(`patched appsettings.json for ${env.envName}: Environment, Logging.LogLevel.Default, Urls (secrets stay references to the secure store)`);
    say(`SHA-256 ${info.sha256}  artifact\\${env.artifactName} (${info.bytes} bytes)`);
    // artifact.json describes what is deployed (the transformed zip); the package it came from is kept as source.
    this.json('artifact.json', { name: env.artifactName, sha256: info.sha256, bytes: info.bytes, source: this.packageInfo });
    await this.sleep((PACE.config ?? 2500) / 2);
  }

  private async transfer(say: (t: string) => void): Promise<void> {
    const env = this.deps.env;
    this.pipe('withCredentials');
    this.log.line(`Masking supported pattern matches of %SVC_PASS%`);
    this.pipe('powershell');
    await this.paced('transfer', say, [
      `$s = New-PSSession -ComputerName ${env.devtestServer} -UseSSL -Port 5986 -Credential ****`,
      `Copy-Item -ToSession $s -Path artifact\\${env.artifactName} -Destination ${env.deployStaging}\\${env.artifactName}`,
      `target checksum ${this.artifactSha} matches (Get-FileHash on ${env.devtestServer})`,
    ]);
  }

  private async stopPools(say: (t: string) => void): Promise<void> {
    this.pipe('powershell');
    say(`scripts\\ps\\stop_pools.ps1 -ComputerName ${this.deps.env.devtestServer} -Pools ${this.deps.env.iisAppPools.join(',')}`);
    this.deps.devtest.stopPools();
    await this.paced('deploy:0', say, this.deps.env.iisAppPools.map((p) => `app pool ${p}: Stopped`));
  }

  private async backupAndDeploy(say: (t: string) => void): Promise<void> {
    const env = this.deps.env;
    const started = new Date().toISOString();
    const lines: string[] = [];
    const sayLog = (t: string) => {
      say(t);
      lines.push(`${new Date().toISOString()} ${t}`);
    };
    this.pipe('powershell');
    sayLog(`scripts\\ps\\deploy_zip.ps1 -ZipPath ${env.deployStaging}\\${env.artifactName} -DeployDir ${env.deployDir} -BackupRoot ${env.backupRoot}`);
    await this.sleep((PACE['deploy:1'] ?? 6000) / 3);
    const backup = this.deps.devtest.takeBackup();
    this.deployBackup = backup;
    sayLog(`backup ${env.backupRoot}\\${backup.id} created from ${env.deployDir} (version ${backup.version ?? 'none'})`);
    sayLog(`verified backup ${env.backupRoot}\\${backup.id}: 214 files, 38.1 MB`);
    await this.sleep((PACE['deploy:1'] ?? 6000) / 3);
    sayLog(`Expand-Archive -Path ${env.deployStaging}\\${env.artifactName} -DestinationPath ${env.deployDir} -Force`);
    // Fault smoke_fail: this version will answer 503 once it runs.
    this.deps.devtest.deploy(this.version, this.commit, this.deps.faults.get().smoke_fail);
    sayLog(`deployed ${env.appName} ${this.version} (${this.commit.slice(0, 7)}) to ${env.deployDir}; EF migrations: not run (no DB service account configured)`);
    await this.sleep((PACE['deploy:1'] ?? 6000) / 3);
    // The fields scripts/ps/deploy_zip.ps1 writes.
    this.json('deploy-manifest.json', {
      backup_id: backup.id,
      backup_path: `${env.backupRoot}\\${backup.id}`,
      deploy_dir: env.deployDir,
      artifact_sha256: this.artifactSha,
      artifact_name: env.artifactName,
      computer: env.devtestServer,
      pools: env.iisAppPools,
      started_at: started,
      finished_at: new Date().toISOString(),
      migrations_ran: false,
      changed: true,
      ok: true,
      error: null,
    });
    this.writeReport('deploy.log', `${lines.join('\n')}\n`);
  }

  /** scripts/ps/smoke.ps1: each SMOKE_URL with retries and doubling backoff; fail fast on a URL still not 200. */
  private async smoke(label: string, stageId: string, say: (t: string) => void): Promise<SmokeOutcome> {
    const urls: SmokeOutcome['urls'] = [];
    const logLines: string[] = [];
    const startedAt = new Date().toISOString();
    const logName = `smoke_${label}_${stamp()}.log`;
    const note = (t: string) => {
      say(t);
      logLines.push(`${new Date().toISOString()} [${stageId}] ${t}`);
    };
    const list = this.deps.env.smokeUrls;
    note(`smoke check (${label}): ${list.length} URL(s), up to ${SMOKE_RETRIES} retries each, backoff ${SMOKE_BACKOFF_MS / 1000}s doubling, timeout 10s`);
    let failedFast = false;
    for (const configured of list) {
      // Each SMOKE_URL's path and query, on the simulated DevTest.
      const u = new URL(configured);
      const target = `${this.deps.devtest.url}${u.pathname}${u.search}`;
      if (failedFast) {
        urls.push({ url: configured, ok: false, status: null, attempts: 0, ms: null, error: 'not checked: an earlier URL failed (fail fast)', target });
        continue;
      }
      let status: number | null = null;
      let ms = 0;
      let error: string | null = null;
      let attempt = 0;
      for (;;) {
        attempt++;
        const t0 = Date.now();
        try {
          const r = await fetch(target, { signal: AbortSignal.timeout(10_000) });
          await r.arrayBuffer();
          status = r.status;
          error = null;
        } catch (err) {
          status = null;
          error = (err as Error).message;
        }
        ms = Date.now() - t0;
        const statusText = status === null ? 'no response' : `HTTP ${status}`;
        if (status === 200) {
          note(`ok   ${configured} -> ${statusText} in ${ms} ms (attempt ${attempt})`);
          break;
        }
        const reason = error ? `${statusText}: ${error}` : statusText;
        if (attempt > SMOKE_RETRIES) {
          note(`FAIL ${configured} -> ${reason} after ${attempt} attempt(s)`);
          break;
        }
        const wait = SMOKE_BACKOFF_MS * 2 ** (attempt - 1);
        note(`retry ${configured} -> ${reason} (attempt ${attempt}/${SMOKE_RETRIES + 1}); waiting ${wait / 1000}s`);
        await this.sleep(wait);
      }
      const ok = status === 200;
      urls.push({ url: configured, ok, status, attempts: attempt, ms, error: ok ? null : error ?? `not HTTP 200 after ${attempt} attempt(s)`, target });
      if (!ok) failedFast = true;
    }
    const healthy = urls.filter((x) => x.ok).length;
    const outcome: SmokeOutcome = { urls, ok: healthy === urls.length && urls.length > 0, healthy, total: urls.length, label, started_at: startedAt, finished_at: new Date().toISOString() };
    note(`smoke ${outcome.ok ? 'passed' : 'FAILED'}: ${healthy}/${urls.length} healthy`);
    this.writeReport(logName, `${logLines.join('\n')}\n`);
    this.json(label === 'smoke' ? 'smoke.json' : `smoke_${label}.json`, outcome);
    return outcome;
  }

  private async startAndSmoke(say: (t: string) => void): Promise<void> {
    this.pipe('powershell');
    say(`scripts\\ps\\start_pools.ps1 -ComputerName ${this.deps.env.devtestServer}`);
    this.deps.devtest.startPools();
    await this.paced('smoke', say, this.deps.env.iisAppPools.map((p) => `app pool ${p}: Started`), 0.5);
    say(`scripts\\ps\\smoke.ps1 -Urls ${this.deps.env.smokeUrls.join(',')} -Retries ${SMOKE_RETRIES} -BackoffSeconds ${SMOKE_BACKOFF_MS / 1000} -ReportsDir reports -Label smoke`);
    const outcome = await this.smoke('smoke', 'smoke', say);
    await this.sleep((PACE.smoke ?? 3000) / 2);
    if (!outcome.ok) {
      this.smokeFailed = true;
      say('FAILED after retries: rolling back to the backup taken by this build');
      throw new StepFailure('[smoke] the new version is not healthy');
    }
  }

  private async rollback(say: (t: string) => void): Promise<void> {
    const env = this.deps.env;
    const devtest = this.deps.devtest;
    // deploy: restore exactly what this build backed up; rollback: ROLLBACK_TO, or the newest backup.
    const wanted = this.p.action === 'rollback' ? this.p.rollbackTo || null : this.deployBackup?.id ?? null;
    this.rollbackBackupId = wanted;
    this.rollbackResult = 'failed';
    this.pipe('powershell');
    say(wanted ? `backup ${wanted}` : 'newest backup');
    const backup = devtest.findBackup(wanted);
    if (!backup) {
      say(`ERROR: no backup ${wanted ?? ''} under ${env.backupRoot}; nothing was restored`);
      throw new StepFailure(`Backup ${wanted ?? '(newest)'} not found under ${env.backupRoot}`);
    }
    devtest.stopPools();
    await this.paced('rollback', say, [...env.iisAppPools.map((p) => `app pool ${p}: Stopped`), `restoring ${env.backupRoot}\\${backup.id} to ${env.deployDir}`], 0.4);
    devtest.restore(backup, this.deps.faults.get().rollback_fail);
    say(`restored version ${backup.version ?? 'none'} (${(backup.commit ?? '').slice(0, 7)})`);
    devtest.startPools();
    await this.paced('rollback', say, env.iisAppPools.map((p) => `app pool ${p}: Started`), 0.3);
    // ACTION=rollback: this re-smoke is the run's smoke (smoke.json, contract note on the smoke stage);
    // after a failed deploy it must not overwrite the failed smoke.json, so it is smoke_rollback.json.
    const re = await this.smoke(this.p.action === 'rollback' ? 'smoke' : 'rollback', 'rollback', say);
    this.json('rollback.json', { backup_id: backup.id, restored_at: new Date().toISOString(), smoke_ok: re.ok, pools: env.iisAppPools });
    await this.sleep((PACE.rollback ?? 6000) * 0.3);
    if (!re.ok) {
      say('ROLLBACK FAILED: DevTest may be down, see reports/rollback.json');
      throw new StepFailure(`script returned exit code 1 (re-smoke after rollback: ${re.healthy}/${re.total} healthy)`);
    }
    this.rollbackResult = 'ok';
    if (this.p.action === 'deploy') {
      // The previous version is back and healthy, but this build's version was not: the build fails.
      this.worsen('FAILURE');
      say('rolled back: the previous version passed re-smoke; this build is marked FAILURE');
    } else {
      say('rollback finished and re-smoke passed');
    }
  }

  private async tests(): Promise<void> {
    const group = this.deps.contract.parallelGroup;
    const [apiName, e2eName] = [this.name('api'), this.name('e2e')];
    // Jenkinsfile: stage('Tests') { when { ACTION == 'deploy' && !DRY_RUN && SMOKE_FAILED == 'false' && TEST_SUITE != 'none' } }
    const parentWhen = this.p.action === 'deploy' && !this.p.dryRun && !this.smokeFailed && this.p.suite !== 'none';
    this.pipe('stage');
    const nodeId = this.pipe(`{ (${group.name})`);
    const parent: StageRecord = { id: String(nodeId), stepId: String(nodeId + 1), name: group.name, status: 'IN_PROGRESS', startTimeMillis: Date.now(), durationMillis: 0, text: '' };
    this.ctx.build.stages.push(parent);
    const closeParent = () => {
      parent.durationMillis = Date.now() - parent.startTimeMillis;
      this.pipe('}');
      this.pipe('// stage');
    };
    if (this.hardFailure || !parentWhen) {
      // Declarative skips a parallel parent and still walks its branches, marking each skipped (ModelInterpreter.skipStage).
      this.log.line(`Stage "${group.name}" skipped due to ${this.hardFailure ? 'earlier failure(s)' : 'when conditional'}`);
      parent.status = 'NOT_EXECUTED';
      this.testsSkipped = true;
    }
    this.pipe('parallel');
    this.pipe(`{ (Branch: ${apiName})`);
    this.pipe(`{ (Branch: ${e2eName})`);
    const results = await Promise.allSettled([
      this.stage('api', apiName, (say) => this.apiTests(say), { caught: true }),
      this.stage('e2e', e2eName, (say) => this.e2eTests(say), { caught: true }),
    ]);
    this.pipe('}');
    this.pipe('}');
    this.pipe('// parallel');
    const children = this.ctx.build.stages.filter((s) => s.name === apiName || s.name === e2eName).slice(-2);
    if (parent.status !== 'NOT_EXECUTED') {
      parent.status = children.some((c) => c.status === 'ABORTED') ? 'ABORTED' : children.some((c) => c.status === 'FAILED') ? 'FAILED' : children.every((c) => c.status === 'NOT_EXECUTED') ? 'NOT_EXECUTED' : 'SUCCESS';
    }
    closeParent();
    const abort = results.find((r) => r.status === 'rejected');
    if (abort) throw (abort as PromiseRejectedResult).reason;
    // catchError(buildResult: 'UNSTABLE', stageResult: 'FAILURE') around Newman and pytest.
    if (children.some((c) => c.status === 'FAILED')) this.worsen('UNSTABLE');
  }

  private async apiTests(say: (t: string) => void): Promise<void> {
    const env = this.deps.env;
    const started = Date.now();
    const collection = path.join(this.deps.repoRoot, env.postmanCollection);
    const environment = path.join(this.deps.repoRoot, env.postmanEnv);
    this.pipe('bat');
    say(`newman run ${env.postmanCollection} -e ${env.postmanEnv} -r cli,htmlextra,json --reporter-htmlextra-export ${env.artifactStore}/newman.html --reporter-json-export ${env.artifactStore}/newman.json`);
    if (!existsSync(collection) || !existsSync(environment)) {
      throw new StepFailure(`${!existsSync(collection) ? env.postmanCollection : env.postmanEnv} not found in the repository; commit it (SPEC POSTMAN_COLLECTION / POSTMAN_ENV)`);
    }
    const out = await runNewman({
      collection,
      environment,
      baseUrl: this.deps.devtest.url,
      htmlExport: path.join(this.reports, 'newman.html'),
      jsonExport: path.join(this.reports, 'newman.json'),
      title: `${env.appName} ${env.envName} API tests`,
      signal: this.ctx.signal,
      onLine: say,
    });
    if (this.ctx.signal.aborted) throw new AbortedError('aborted');
    if (out.error) throw new StepFailure(`newman: ${out.error}`);
    const rest = (PACE.api ?? 8000) * this.deps.timeScale - (Date.now() - started);
    if (rest > 0) await this.sleep(rest / Math.max(this.deps.timeScale, 1e-9));
    if (out.exitCode !== 0 || out.assertionsFailed > 0) throw new StepFailure(`script returned exit code ${out.exitCode || 1} (newman: ${out.assertionsFailed} of ${out.assertionsTotal} assertions failed)`);
  }

  private async e2eTests(say: (t: string) => void): Promise<void> {
    const env = this.deps.env;
    const fail = this.deps.faults.get().e2e_fail;
    const started = new Date();
    this.pipe('bat');
    say(`py -m pytest ${env.pytestE2eDir} --maxfail=1 --disable-warnings -q --html=${env.artifactStore}/playwright.html --self-contained-html --junitxml=${env.artifactStore}/e2e-junit.xml`);
    const base = this.deps.devtest.url;
    // Each simulated browser test loads a page of the simulated DevTest over real HTTP.
    const cases: { name: string; path: string; check?: (body: Record<string, unknown>) => string | null; injectFailure?: boolean; skip?: string }[] = [
      { name: 'test_login_page_loads', path: '/health' },
      { name: 'test_management_portal_opens', path: '/WeSignManagement/health' },
      { name: 'test_user_api_reachable_from_ui', path: '/UserApi/health' },
      { name: 'test_signer_page_loads', path: '/SignerApi/health' },
      { name: 'test_version_banner_matches_deploy', path: '/api/version', check: (b) => (this.commit && b.commit !== this.commit ? `assert '${String(b.commit)}' == '${this.commit}'` : null) },
      { name: 'test_upload_and_sign_document', path: '/SignerApi/health', injectFailure: fail },
      { name: 'test_email_notification_sent', path: '/health', skip: 'needs the SMTP sink of DevTest (not configured)' },
    ];
    const classname = `${env.pytestE2eDir.replace(/[\\/]/g, '.')}.test_wesign_smoke_flows`;
    const results: E2eResult[] = [];
    let progress = '';
    for (const c of cases) {
      const t0 = Date.now();
      await this.sleep((PACE.e2e ?? 10000) / cases.length);
      if (c.skip) {
        results.push({ classname, name: c.name, timeS: 0, outcome: 'skipped', message: c.skip, detail: `${env.pytestE2eDir}/test_wesign_smoke_flows.py:88: ${c.skip}` });
        progress += 's';
        continue;
      }
      let problem: string | null = null;
      try {
        const r = await fetch(`${base}${c.path}`, { signal: AbortSignal.timeout(5000) });
        const body = (await r.json().catch(() => ({}))) as Record<string, unknown>;
        if (r.status !== 200) problem = `assert ${r.status} == 200`;
        else problem = c.check?.(body) ?? null;
      } catch (err) {
        problem = `playwright._impl._errors.Error: net::ERR_CONNECTION_REFUSED (${(err as Error).message})`;
      }
      if (!problem && c.injectFailure) problem = "playwright._impl._errors.TimeoutError: Timeout 30000ms exceeded waiting for get_by_text('Document signed') (sandbox fault e2e_fail)";
      const timeS = (Date.now() - t0) / 1000;
      if (problem) {
        const detail = `page = <Page url='${base}${c.path}'>\n\n    def ${c.name}(page):\n        page.goto(BASE_URL + "${c.path}")\n>       expect_ok(page)\nE       ${problem}\n\n${env.pytestE2eDir}/test_wesign_smoke_flows.py:42: AssertionError`;
        results.push({ classname, name: c.name, timeS, outcome: 'failed', message: problem, detail });
        progress += 'F';
        break; // --maxfail=1: pytest stops here and reports only what ran
      }
      results.push({ classname, name: c.name, timeS, outcome: 'passed' });
      progress += '.';
    }
    const n = (o: E2eResult['outcome']) => results.filter((r) => r.outcome === o).length;
    const duration = (Date.now() - started.getTime()) / 1000;
    say(`${progress}${' '.repeat(Math.max(1, 72 - progress.length))}[100%]`);
    for (const r of results.filter((x) => x.outcome === 'failed')) say(`FAILED ${r.classname.replace(/\./g, '/')}.py::${r.name} - ${r.message}`);
    if (n('failed')) say('!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!');
    const parts = [n('failed') && `${n('failed')} failed`, `${n('passed')} passed`, n('skipped') && `${n('skipped')} skipped`].filter(Boolean).join(', ');
    say(`${parts} in ${duration.toFixed(2)}s`);
    this.writeReport('e2e-junit.xml', renderJunit(results, started, 'WIN-AGENT-01'));
    this.writeReport(
      'playwright.html',
      renderPytestHtml(results, { title: 'playwright.html', generated: new Date(), durationS: duration, environment: { Python: '3.11.9', Platform: 'Windows-10-10.0.20348-SP0', Browser: 'chromium', BASE_URL: base, Packages: "{'pytest': '8.3.3', 'pluggy': '1.5.0'}", Plugins: "{'html': '4.1.1', 'playwright': '0.5.2', 'base-url': '2.1.0'}" } }),
    );
    if (n('failed')) throw new StepFailure(`script returned exit code 1 (pytest: ${n('failed')} failed)`);
  }

  // ------------------------------------------------------------------ post

  private async post(aborted: boolean): Promise<void> {
    const reportStage = stageById(this.deps.contract, 'report').jenkins;
    const name = reportStage[reportStage.length - 1] ?? 'Declarative: Post Actions';
    this.pipe('stage');
    const nodeId = this.pipe(`{ (${name})`);
    const rec: StageRecord = { id: String(nodeId), stepId: String(nodeId + 1), name, status: 'IN_PROGRESS', startTimeMillis: Date.now(), durationMillis: 0, text: '' };
    this.ctx.build.stages.push(rec);
    const say = (t: string) => {
      const line = `[report] ${t}`;
      this.log.line(line);
      rec.text += `${line}\n`;
    };
    // post { always { … } } of the Jenkinsfile: aggregate (gates can fail the build), archive, describe.
    say('aggregating reports into reports/summary.json');
    const status = await this.writeSummary(say, aborted);
    if (status === 1) {
      say('a quality gate failed (see reports/summary.json): the build is marked FAILURE');
      this.worsen('FAILURE');
    } else if (status === 2) {
      say('the report aggregator itself failed: no summary.json; the build is marked UNSTABLE');
      this.worsen('UNSTABLE');
    } else if (status === null) {
      say('the report aggregator is not available: no summary.json this time; the build result stands as it is');
    }
    say('archiving reports/**');
    this.pipe('archiveArtifacts');
    this.log.line('Archiving artifacts');
    this.archive();
    this.ctx.build.description = this.buildDescription(aborted);
    say(this.ctx.build.description);
    await this.sleep(PACE.report ?? 2000);
    rec.status = 'SUCCESS';
    rec.durationMillis = Date.now() - rec.startTimeMillis;
    this.pipe('}');
    this.pipe('// stage');
  }

  /** The Jenkinsfile's buildDescription(): run id, what was asked, and how it ended. */
  private buildDescription(aborted: boolean): string {
    let outcome: string = aborted ? 'ABORTED' : this.result;
    const to = this.rollbackBackupId ?? 'the newest backup';
    if (this.p.action === 'deploy' && this.rollbackResult === 'ok') outcome = `FAILURE, rolled back to ${to}`;
    else if (this.rollbackResult === 'failed') outcome = 'FAILURE, rollback FAILED';
    else if (this.p.action === 'rollback' && this.rollbackResult === 'ok') outcome = `SUCCESS, rolled back to ${to}`;
    const mode = this.p.dryRun ? 'dry run' : this.p.action;
    return `QA_RUN_ID=${this.p.runId || '-'} | ${mode} ${this.p.branch} | ${outcome}`;
  }

  /**
   * summary.json, only if the backend's aggregator can be imported: the same call the Jenkinsfile's
   * Post section makes through `cli/aggregate.ts` (producedBy "jenkins"). The backend recomputes it anyway.
   */
  private async writeSummary(say: (t: string) => void, aborted: boolean): Promise<0 | 1 | 2 | null> {
    type Aggregate = (input: Record<string, unknown>) => Promise<unknown>;
    let mod: { aggregate?: Aggregate; renderConsoleBlock?: (s: unknown) => string };
    try {
      // Resolved next to this module, so it works under tsx (→ .ts) and from compiled JavaScript alike.
      const specifier = new URL('../../ci/report_aggregator.js', import.meta.url).href;
      mod = (await import(specifier)) as typeof mod;
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('report_aggregator')) return null;
      say(`summary.json not written: report_aggregator could not be loaded (${(err as Error).message})`);
      return 2;
    }
    if (typeof mod.aggregate !== 'function') return null;
    const env = this.deps.env;
    try {
      const summary: unknown = await mod.aggregate({
        runDir: this.reports,
        producedBy: 'jenkins',
        run: {
          run_id: this.p.runId || `${this.ctx.job.name}-${this.ctx.build.number}`,
          app: env.appName,
          env: env.envName,
          kind: this.p.action === 'rollback' ? 'rollback' : 'deploy',
          dry_run: this.p.dryRun,
          test_suite: this.p.suite,
          initiator: this.ctx.build.causeUser,
          branch_or_tag: this.p.branch,
          ci_result: aborted ? 'ABORTED' : this.result,
          stages: [],
          started_at: null,
          finished_at: null,
          jenkins_url: `${this.ctx.jenkinsUrl}/${this.ctx.job.name}`,
          run_url: `${this.ctx.jenkinsUrl}/job/${encodeURIComponent(this.ctx.job.name)}/${this.ctx.build.number}/`,
        },
        secrets: { masked_in_log: [] },
        knownSecrets: [],
        smokeUrls: env.smokeUrls,
        scoreThreshold: 80,
        scoreWeights: { build: 20, smoke: 20, api: 30, e2e: 30 },
      });
      if (typeof mod.renderConsoleBlock === 'function') {
        for (const line of mod.renderConsoleBlock(summary).split(/\r?\n/)) if (line.trim()) say(line.replace(/^\[report\] /, ''));
      }
      // cli/aggregate.ts --fail-on-gates: exit 1 unless the verdict is success.
      return (summary as { verdict?: { status?: string } } | null)?.verdict?.status === 'success' ? 0 : 1;
    } catch (err) {
      say(`summary.json not written: report_aggregator.aggregate failed (${(err as Error).message})`);
      return 2;
    }
  }

  /** archiveArtifacts 'reports/**, artifact/<ARTIFACT_NAME>', allowEmptyArchive: true. */
  private archive(): number {
    let count = 0;
    const copy = (src: string, rel: string) => {
      const dest = path.join(this.ctx.archiveDir, rel);
      mkdirSync(path.dirname(dest), { recursive: true });
      copyFileSync(src, dest);
      this.ctx.archived(rel);
      count++;
    };
    const walk = (dir: string, rel: string) => {
      if (!existsSync(dir)) return;
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name), `${rel}/${e.name}`);
        else copy(path.join(dir, e.name), `${rel}/${e.name}`);
      }
    };
    walk(this.reports, this.deps.env.artifactStore);
    const zip = path.join(this.ctx.workspaceDir, 'artifact', this.deps.env.artifactName);
    if (existsSync(zip)) copy(zip, `artifact/${this.deps.env.artifactName}`);
    return count;
  }
}
