/**
 * A Jenkins-compatible HTTP server: the REST subset of
 * /work/shared/reference/jenkins-rest-api.md (§11 is the checklist), faithful
 * enough that the backend's real Jenkins client cannot tell it from Jenkins for
 * the calls it makes. Section numbers in comments ("ref §2.2") point into that
 * reference, which cites the Jenkins source each behaviour was read from.
 *
 * What runs a build is not in here: `runBuild` (the emulated WeSign-CI job,
 * ../job/pipeline.ts) receives a BuildContext and fills the build's log,
 * stages and archive.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import yazl from 'yazl';
import type { FaultState } from '../faults.js';
import type { SandboxStore } from '../store.js';
import { renderConfigXml, parseConfigXml, ConfigXmlError } from './config_xml.js';
import { authRequiredPage, errorPage, escapeHtml, oopsPage, page, retryWithPostPage } from './html.js';
import { BuildLog, normalizeLineEnds } from './log.js';
import {
  buildUrl,
  CLASS,
  jobJson,
  jobJsonDefault,
  jobUrl,
  parametersAction,
  causeAction,
  paramsText,
  runJson,
  estimatedDuration,
  type BuildRecord,
  type JobRecord,
  type ParamDef,
  type ParamValue,
  type QueueItemRecord,
  type Result,
  type StageRecord,
} from './model.js';
import { JenkinsException, parseDelayMs, sameParams, valuesFromJsonForm, valuesFromRequest } from './params.js';
import { applyTree, parseTree, TreeSyntaxError } from './tree.js';
import { contentTypeOf, encodePath, jobPathOnly, parseMultipart, safeEqual, walk } from './http_util.js';
import { describeRun, stepNode } from './wfapi.js';

export const JENKINS_VERSION = '2.504.3';

/** What the emulated job gets to run one build. */
export interface BuildContext {
  job: JobRecord;
  build: BuildRecord;
  /** Effective parameter values (defaults when the build has no ParametersAction). */
  params: Record<string, string | boolean>;
  archiveDir: string;
  workspaceDir: string;
  /** Aborted by stop/term (kill finalizes the build without waiting for the job). */
  signal: AbortSignal;
  jenkinsUrl: string;
  /** Adds a file under the archive root to the build's artifacts (archiveArtifacts). */
  archived(relativePath: string): void;
  /** Persist state now (a stage finished). */
  checkpoint(): void;
}

export interface JenkinsServerOptions {
  host: string;
  port: number;
  user: string;
  token: string;
  /** A password login works too, but is not exempt from the crumb check (ref §1.2). */
  password: string;
  quietPeriodMs: number;
  consoleNotes: boolean;
  /** Queue.leftItems expiry: 5 minutes in Jenkins (ref §3.1). */
  leftItemTtlMs: number;
  /** The LeftItem `executable:null` window before the build exists (ref §3.1 race). */
  executableNullWindowMs: number;
  faults: FaultState;
  store: SandboxStore;
  /** Parameter definitions the emulated Jenkinsfile's `parameters {}` registers at the start of a build. */
  pipelineParams: ParamDef[];
  runBuild: (ctx: BuildContext) => Promise<Result>;
  /** Extra routes under /sandbox/ (fault control); they need auth but skip faults and crumbs. */
  controlRoutes?: (req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer) => Promise<boolean>;
}

interface Auth {
  user: string;
  /** Authenticated with an API token: exempt from the crumb check (ApiCrumbExclusion, ref §1.2). */
  byToken: boolean;
}

interface PersistedBuild extends Omit<BuildRecord, 'log' | 'abort'> {}
interface PersistedJob extends Omit<JobRecord, 'builds'> {
  builds: PersistedBuild[];
}
interface PersistedState {
  nextQueueId: number;
  jobs: PersistedJob[];
  queue: QueueItemRecord[];
}

const JSON_TYPE = 'application/json;charset=utf-8';

export class JenkinsServer {
  readonly jobs = new Map<string, JobRecord>();
  private queue: QueueItemRecord[] = [];
  private nextQueueId = 1;
  private readonly sessions = new Map<string, string>();
  private readonly crumbSalt = randomBytes(16).toString('hex');
  private readonly sessionCookie = `JSESSIONID.${randomBytes(4).toString('hex')}`;
  private readonly sessionHash = randomBytes(4).toString('hex');
  private readonly starting = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private readonly sockets = new Set<Socket>();
  private pumpTimer: NodeJS.Timeout | null = null;
  private server: Server | null = null;
  private closed = false;
  baseUrl = '';

  constructor(private readonly opts: JenkinsServerOptions) {}

  // ---------------------------------------------------------------- lifecycle

  addJob(name: string, params: ParamDef[] | null, description = 'WeSign build, deploy to DevTest and test (emulated by the sandbox).'): JobRecord {
    const existing = this.jobs.get(name);
    if (existing) return existing;
    const job: JobRecord = {
      name,
      description,
      params,
      disabled: false,
      concurrent: false, // the Jenkinsfile has options { disableConcurrentBuilds() }
      nextBuildNumber: 1,
      builds: [],
      configXml: '',
    };
    job.configXml = renderConfigXml(job);
    this.jobs.set(name, job);
    return job;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.html(res, 500, oopsPage('java.lang.RuntimeException', (err as Error).message));
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5_000;
    // jenkins_down_s: connections are destroyed as they arrive (ECONNRESET for the client).
    server.on('connection', (socket: Socket) => {
      if (this.opts.faults.isJenkinsDown()) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    this.baseUrl = `http://${host}:${port}`;
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    for (const job of this.jobs.values()) for (const b of job.builds) if (b.building) b.abort.abort(new Error('sandbox closing'));
    await Promise.allSettled([...this.running]);
    this.persist();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  // ---------------------------------------------------------------- persistence

  persist(): void {
    if (!this.opts.store.isPersistent) return;
    const state: PersistedState = {
      nextQueueId: this.nextQueueId,
      jobs: [...this.jobs.values()].map((j) => ({ ...j, builds: j.builds.map(({ log: _l, abort: _a, ...b }) => b) })),
      // Left items live in memory only in Jenkins (ref §3.1): they are not persisted.
      queue: this.queue.filter((q) => q.state !== 'left'),
    };
    this.opts.store.save('jenkins.json', state);
  }

  /** Loads persisted jobs and builds (dataDir); call before addJob. */
  restore(): void {
    const state = this.opts.store.load<PersistedState>('jenkins.json');
    if (!state) return;
    this.nextQueueId = state.nextQueueId;
    for (const pj of state.jobs) {
      const job: JobRecord = { ...pj, builds: [] };
      for (const pb of pj.builds) {
        const log = BuildLog.load(this.opts.store.logFile(job.name, pb.number), this.opts.consoleNotes);
        const b: BuildRecord = { ...pb, log, abort: new AbortController() };
        if (b.building) {
          // A build cut off by a sandbox restart cannot resume: end it ABORTED, saying why.
          log.line('Sandbox restarted while this build was running; it cannot resume, so it ends here.');
          log.line('Finished: ABORTED');
          for (const s of b.stages) if (s.status === 'IN_PROGRESS') s.status = 'ABORTED';
          b.building = false;
          b.result = 'ABORTED';
          b.duration = Math.max(0, Date.now() - b.timestamp);
        }
        job.builds.push(b);
      }
      this.jobs.set(job.name, job);
    }
    this.queue = state.queue;
  }

  // ---------------------------------------------------------------- queue (ref §3)

  private findQueued(job: string): QueueItemRecord | undefined {
    return this.queue.find((q) => q.jobName === job && q.state !== 'left');
  }

  private runningBuild(job: JobRecord): BuildRecord | undefined {
    return [...job.builds].reverse().find((b) => b.building);
  }

  enqueue(job: JobRecord, params: ParamValue[] | null, user: string, delayMs: number | null): { item: QueueItemRecord; created: boolean } {
    // Merge into an equal queued item (ScheduleResult.isCreated()==false → 303, Jenkins ≥ 2.308, ref §2.2).
    const twin = this.queue.find((q) => q.jobName === job.name && q.state !== 'left' && sameParams(q.params, params));
    if (twin) return { item: twin, created: false };
    const now = Date.now();
    const item: QueueItemRecord = {
      id: this.nextQueueId++,
      jobName: job.name,
      params,
      causeUser: user,
      inQueueSince: now,
      quietUntil: now + (delayMs ?? this.opts.quietPeriodMs),
      state: 'waiting',
      cancelled: false,
      buildNumber: null,
      leftAt: null,
      why: null,
    };
    this.queue.push(item);
    this.persist();
    setImmediate(() => this.pump());
    return { item, created: true };
  }

  /** Moves queue items along: Waiting → (Blocked ⇄ Buildable) → Left, FIFO per job. */
  private pump(): void {
    if (this.closed) return;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
    const now = Date.now();
    let nextWake = Infinity;
    for (const item of this.queue) {
      if (item.state === 'left') continue;
      if (item.state === 'waiting' && now < item.quietUntil) {
        nextWake = Math.min(nextWake, item.quietUntil);
        continue;
      }
      const job = this.jobs.get(item.jobName);
      if (!job) {
        this.leave(item, true);
        continue;
      }
      const busy = this.runningBuild(job);
      if (!job.concurrent && (busy || this.starting.has(job.name))) {
        item.state = 'blocked';
        continue;
      }
      this.leave(item, false);
      this.startBuild(job, item);
    }
    // Expire left items after the TTL (Guava cache expireAfterWrite, ref §3.1).
    this.queue = this.queue.filter((q) => q.state !== 'left' || now - (q.leftAt ?? now) < this.opts.leftItemTtlMs);
    const oldestLeft = this.queue.filter((q) => q.state === 'left').reduce((m, q) => Math.min(m, (q.leftAt ?? now) + this.opts.leftItemTtlMs), Infinity);
    nextWake = Math.min(nextWake, oldestLeft);
    if (nextWake !== Infinity) this.pumpTimer = setTimeout(() => this.pump(), Math.max(5, nextWake - Date.now()));
  }

  private leave(item: QueueItemRecord, cancelled: boolean): void {
    item.state = 'left';
    item.cancelled = cancelled;
    item.leftAt = Date.now();
    item.why = null;
    this.persist();
  }

  private why(item: QueueItemRecord): string | null {
    if (item.state === 'left') return null;
    const now = Date.now();
    if (item.state === 'waiting' && now < item.quietUntil) {
      const s = (item.quietUntil - now) / 1000;
      return `In the quiet period. Expires in ${s >= 10 ? `${Math.round(s)} sec` : s >= 1 ? `${s.toFixed(1)} sec` : `${Math.round(s * 1000)} ms`}`;
    }
    const job = this.jobs.get(item.jobName);
    const busy = job && this.runningBuild(job);
    if (item.state === 'blocked' && job && busy) {
      const est = estimatedDuration(job);
      const eta = est > 0 ? `${Math.max(1, Math.round((est - (now - busy.timestamp)) / 1000))} sec` : 'N/A';
      // BlockedBecauseOfBuildInProgress (ref §3.1, §10 gotcha 10).
      return `Build #${busy.number} is already in progress (ETA: ${eta})`;
    }
    return 'Waiting for next available executor';
  }

  queueItemJson(item: QueueItemRecord): Record<string, unknown> {
    const job = this.jobs.get(item.jobName);
    const cls = { waiting: 'WaitingItem', blocked: 'BlockedItem', buildable: 'BuildableItem', left: 'LeftItem' }[item.state];
    const actions: unknown[] = [];
    if (item.params) actions.push(parametersAction(item.params));
    actions.push(causeAction(item.causeUser));
    const out: Record<string, unknown> = {
      _class: `hudson.model.Queue$${cls}`,
      actions,
      blocked: item.state === 'blocked',
      buildable: item.state === 'buildable',
      id: item.id,
      inQueueSince: item.inQueueSince,
      params: paramsText(item.params),
      stuck: false,
      task: { _class: CLASS.job, name: item.jobName.split('/').pop(), url: jobUrl(this.baseUrl, item.jobName), color: job ? 'notbuilt' : 'disabled' },
      url: `queue/item/${item.id}/`,
      why: this.why(item),
    };
    if (item.state === 'waiting') out.timestamp = item.quietUntil;
    if (item.state === 'blocked' || item.state === 'buildable') out.buildableStartMilliseconds = item.quietUntil;
    if (item.state === 'buildable') out.pending = false;
    if (item.state === 'left') {
      out.cancelled = item.cancelled;
      out.executable =
        item.buildNumber !== null ? { _class: CLASS.run, number: item.buildNumber, url: buildUrl(this.baseUrl, item.jobName, item.buildNumber) } : null;
    }
    return out;
  }

  // ---------------------------------------------------------------- builds

  private startBuild(job: JobRecord, item: QueueItemRecord): void {
    this.starting.add(job.name);
    // The LeftItem exists before the Run (Executor.run → onStartExecuting, ref §3.1): executable:null for a moment.
    const timer = setTimeout(() => {
      this.starting.delete(job.name);
      if (this.closed) return;
      const number = job.nextBuildNumber++;
      const now = Date.now();
      const build: BuildRecord = {
        number,
        queueId: item.id,
        timestamp: now,
        enqueuedAt: item.inQueueSince,
        duration: 0,
        result: null,
        building: true,
        description: null,
        displayName: null,
        params: item.params,
        causeUser: item.causeUser,
        stages: [],
        artifacts: [],
        log: new BuildLog(this.opts.store.logFile(job.name, number), this.opts.consoleNotes),
        abort: new AbortController(),
        hardKilled: false,
      };
      job.builds.push(build);
      item.buildNumber = number;
      const params: Record<string, string | boolean> = {};
      for (const d of this.opts.pipelineParams) params[d.name] = d.defaultValue;
      for (const d of job.params ?? []) params[d.name] = d.defaultValue;
      for (const p of build.params ?? []) params[p.name] = p.value;
      // The Jenkinsfile's declarative `parameters {}` (re)defines the job's parameters while the build
      // runs, so they take effect for later builds (ref §2.2 pipeline gotcha, UNVERIFIED there).
      if (JSON.stringify(job.params) !== JSON.stringify(this.opts.pipelineParams)) {
        job.params = this.opts.pipelineParams.map((d) => ({ ...d }));
        job.configXml = renderConfigXml(job);
      }
      this.persist();
      const ctx: BuildContext = {
        job,
        build,
        params,
        archiveDir: this.opts.store.archiveDir(job.name, number),
        workspaceDir: this.opts.store.workspaceDir(job.name, number),
        signal: build.abort.signal,
        jenkinsUrl: this.baseUrl,
        archived: (rel) => {
          if (!build.artifacts.includes(rel)) build.artifacts = [...build.artifacts, rel].sort();
        },
        checkpoint: () => this.persist(),
      };
      const run = this.opts
        .runBuild(ctx)
        .catch((err: unknown) => {
          build.log.line(`ERROR: ${(err as Error).message}`);
          build.log.line('Finished: FAILURE');
          return 'FAILURE' as Result;
        })
        .then((result) => this.finish(job, build, result));
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }, this.opts.executableNullWindowMs);
    timer.unref?.();
  }

  private finish(job: JobRecord, build: BuildRecord, result: Result): void {
    if (!build.building) return; // already finished by kill
    build.result = result;
    build.duration = Math.max(1, Date.now() - build.timestamp);
    build.building = false;
    this.persist();
    this.pump();
  }

  private findBuild(job: JobRecord, ref: string): BuildRecord | undefined {
    const newest = [...job.builds].reverse();
    const done = (b: BuildRecord) => !b.building;
    switch (ref) {
      case 'lastBuild':
        return newest[0];
      case 'lastCompletedBuild':
        return newest.find(done);
      case 'lastSuccessfulBuild':
        return newest.find((b) => done(b) && (b.result === 'SUCCESS' || b.result === 'UNSTABLE'));
      case 'lastStableBuild':
        return newest.find((b) => done(b) && b.result === 'SUCCESS');
      case 'lastFailedBuild':
        return newest.find((b) => done(b) && b.result === 'FAILURE');
      case 'lastUnsuccessfulBuild':
        return newest.find((b) => done(b) && b.result !== 'SUCCESS');
      default:
        return /^\d+$/.test(ref) ? job.builds.find((b) => b.number === Number(ref)) : undefined;
    }
  }

  // ---------------------------------------------------------------- HTTP plumbing

  private headers(res: ServerResponse): void {
    // ref §1.3: every response advertises the Jenkins version.
    res.setHeader('X-Jenkins', JENKINS_VERSION);
    res.setHeader('X-Jenkins-Session', this.sessionHash);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'deny');
  }

  private html(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'text/html;charset=utf-8', ...extra });
    res.end(body);
  }

  private error(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
    this.html(res, status, errorPage(status, message), { 'X-Error': message.replace(/[^\x20-\x7e]/g, '?'), ...extra });
  }

  private json(res: ServerResponse, value: unknown, url: URL, contentType = JSON_TYPE): void {
    let out = value;
    const tree = url.searchParams.get('tree');
    if (tree !== null) out = applyTree(value, parseTree(tree));
    const depth = url.searchParams.get('depth');
    if (depth !== null && !/^-?\d+$/.test(depth)) throw new JenkinsException(500, 'java.lang.NumberFormatException', `For input string: "${depth}"`);
    if (url.searchParams.has('jsonp')) {
      this.error(res, 403, 'jsonp is not permitted');
      return;
    }
    res.writeHead(200, { 'Content-Type': contentType });
    res.end(JSON.stringify(out));
  }

  private redirect(res: ServerResponse, status: number, location: string): void {
    res.writeHead(status, { Location: location, 'Content-Length': '0' });
    res.end();
  }

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > 50 * 1024 * 1024) throw new JenkinsException(400, 'java.io.IOException', 'request body too large (limit 50 MB)');
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  private authenticate(req: IncomingMessage, res: ServerResponse): Auth | null | 'failed' {
    const header = req.headers.authorization;
    if (!header) return null;
    const m = /^basic\s+(.*)$/i.exec(header);
    const decoded = m ? Buffer.from(m[1]!.trim(), 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    // Bad credentials → 401 with WWW-Authenticate (BasicHeaderProcessor.fail, SecurityRealm realm "Jenkins", ref §1.1).
    const fail = (msg: string) => {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="Jenkins"', 'Content-Type': 'text/html;charset=utf-8' });
      res.end(errorPage(401, msg));
      return 'failed' as const;
    };
    if (!m || colon < 0) return fail('Malformed HTTP basic Authorization header');
    const user = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    if (user !== this.opts.user) return fail(`Invalid password/token for user: ${user}`);
    if (safeEqual(secret, this.opts.token)) return { user, byToken: true };
    if (safeEqual(secret, this.opts.password)) return { user, byToken: false };
    return fail(`Invalid password/token for user: ${user}`);
  }

  private sessionOf(req: IncomingMessage): string | null {
    const cookie = req.headers.cookie ?? '';
    for (const part of cookie.split(';')) {
      const [k, v] = part.trim().split('=', 2);
      if (k === this.sessionCookie && v && this.sessions.has(v)) return v;
    }
    return null;
  }

  private crumbFor(user: string, session: string): string {
    // DefaultCrumbIssuer.issueCrumb: SHA-256 of "user;sessionId", salted (ref §1.2).
    return createHash('sha256').update(`${user};${session}${this.crumbSalt}`).digest('hex');
  }

  // ---------------------------------------------------------------- routing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.opts.faults.isJenkinsDown()) {
      req.socket.destroy();
      return;
    }
    this.headers(res);
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const method = req.method ?? 'GET';
    const body = method === 'POST' || method === 'PUT' ? await this.readBody(req) : Buffer.alloc(0);

    const auth = this.authenticate(req, res);
    if (auth === 'failed') return;

    if (url.pathname.startsWith('/sandbox/') && this.opts.controlRoutes) {
      if (!auth) return this.html(res, 403, authRequiredPage());
      if (await this.opts.controlRoutes(req, res, url, body)) return;
      return this.error(res, 404, `No sandbox control route ${url.pathname}`);
    }

    // jenkins_flaky: a share of API calls fail before Jenkins does anything (as a proxy in front would).
    const flaky = this.opts.faults.get().jenkins_flaky;
    if (flaky > 0 && Math.random() < flaky) {
      const status = [500, 502, 503][Math.floor(Math.random() * 3)]!;
      for (const h of ['X-Jenkins', 'X-Jenkins-Session']) res.removeHeader(h); // the proxy answers, not Jenkins
      return this.html(res, status, errorPage(status, 'Sandbox fault jenkins_flaky: this call failed on purpose.'));
    }

    if (!auth) {
      // Anonymous → 403 "Authentication required", not 401 (HudsonAuthenticationEntryPoint, ref §1.1).
      if (req.headers['x-requested-with'] === 'XMLHttpRequest') {
        res.writeHead(403);
        res.end();
        return;
      }
      return this.html(res, 403, authRequiredPage());
    }

    const form = this.formParams(req, body);
    if (method === 'POST' && !auth.byToken) {
      // CrumbFilter: header or form/query field Jenkins-Crumb, bound to the session cookie (ref §1.2).
      const session = this.sessionOf(req);
      const crumb = (req.headers['jenkins-crumb'] as string | undefined) ?? form.get('Jenkins-Crumb') ?? url.searchParams.get('Jenkins-Crumb');
      if (!session || !crumb || !safeEqual(crumb, this.crumbFor(auth.user, session))) {
        return this.error(res, 403, 'No valid crumb was included in the request');
      }
    }

    try {
      await this.route(req, res, url, method, auth, body, form);
    } catch (err) {
      if (err instanceof JenkinsException) {
        if (err.status === 500) return this.html(res, 500, oopsPage(err.exceptionClass, err.message), { 'X-Error': err.message });
        return this.error(res, err.status, err.message);
      }
      if (err instanceof TreeSyntaxError) return this.html(res, 500, oopsPage('javax.servlet.ServletException', err.message));
      throw err;
    }
  }

  private formParams(req: IncomingMessage, body: Buffer): URLSearchParams {
    const type = String(req.headers['content-type'] ?? '');
    if (type.startsWith('application/x-www-form-urlencoded')) return new URLSearchParams(body.toString('utf8'));
    if (type.startsWith('multipart/form-data')) return parseMultipart(type, body);
    return new URLSearchParams();
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL, method: string, auth: Auth, body: Buffer, form: URLSearchParams): Promise<void> {
    const p = url.pathname;
    if (p === '/' || p === '') return this.html(res, 200, page('Dashboard', `<h1>Jenkins (sandbox)</h1><ul>${[...this.jobs.keys()].map((j) => `<li><a href="${jobUrl('', j)}">${escapeHtml(j)}</a></li>`).join('')}</ul>`));
    if (p === '/api/json') return this.json(res, this.rootJson(), url);
    if (p === '/whoAmI/api/json' || p === '/me/api/json') {
      return this.json(res, { _class: 'hudson.security.WhoAmI', anonymous: false, authenticated: true, authorities: ['authenticated'], name: auth.user, toString: `Username: ${auth.user}` }, url);
    }
    if (p === '/crumbIssuer/api/json' || p === '/crumbIssuer/api/xml') return this.crumbIssuer(req, res, url, auth);
    if (p === '/queue/api/json') {
      return this.json(res, { _class: 'hudson.model.Queue', discoverableItems: [], items: this.queue.filter((q) => q.state !== 'left').map((q) => this.queueItemJson(q)) }, url);
    }
    if (p === '/queue/cancelItem') return this.requirePost(method, res, () => this.cancelItem(res, url.searchParams.get('id') ?? form.get('id')));
    let m = /^\/queue\/item\/(\d+)\/?(.*)$/.exec(p);
    if (m) return this.queueItemRoute(res, url, method, Number(m[1]), m[2] ?? '');
    if (p === '/createItem') return this.requirePost(method, res, () => this.createItem(res, url, body));

    m = /^((?:\/job\/[^/]+)+)(\/.*)?$/.exec(p);
    if (m) {
      const name = m[1]!.split('/job/').filter(Boolean).map(decodeURIComponent).join('/');
      const job = this.jobs.get(name);
      if (!job) return this.error(res, 404, `No such job: ${name}`);
      return this.jobRoute(req, res, url, method, auth, job, m[2] ?? '/', body, form);
    }
    return this.error(res, 404, `Not found: ${p}`);
  }

  private requirePost(method: string, res: ServerResponse, fn: () => void | Promise<void>): void | Promise<void> {
    // @RequirePOST → 405 + Allow: POST with the "retry" page (ref §2.2, §10).
    if (method !== 'POST') return this.html(res, 405, retryWithPostPage(), { Allow: 'POST' });
    return fn();
  }

  private rootJson(): unknown {
    return {
      _class: 'hudson.model.Hudson',
      assignedLabels: [{ name: 'built-in' }],
      mode: 'NORMAL',
      nodeDescription: 'the Jenkins controller\'s built-in node (sandbox)',
      nodeName: '',
      numExecutors: 2,
      description: 'Jenkins-compatible sandbox of QA Intelligence CI/CD. Not a real Jenkins.',
      jobs: [...this.jobs.values()].map((j) => ({ _class: CLASS.job, name: j.name, url: jobUrl(this.baseUrl, j.name), color: 'notbuilt' })),
      quietingDown: false,
      slaveAgentPort: -1,
      useCrumbs: true,
      useSecurity: true,
      views: [{ _class: 'hudson.model.AllView', name: 'all', url: `${this.baseUrl}/` }],
    };
  }

  private crumbIssuer(req: IncomingMessage, res: ServerResponse, url: URL, auth: Auth): void {
    // issueCrumb calls req.getSession(): the reply creates a session cookie the crumb is bound to (SECURITY-626, ref §1.2).
    let session = this.sessionOf(req);
    if (!session) {
      session = randomBytes(16).toString('hex');
      this.sessions.set(session, auth.user);
      res.setHeader('Set-Cookie', `${this.sessionCookie}=${session}; Path=/; HttpOnly`);
    }
    const crumb = this.crumbFor(auth.user, session);
    if (url.pathname.endsWith('/xml')) {
      const xpath = url.searchParams.get('xpath');
      res.writeHead(200, { 'Content-Type': xpath ? 'text/plain;charset=utf-8' : 'application/xml;charset=utf-8' });
      res.end(xpath ? `Jenkins-Crumb:${crumb}` : `<defaultCrumbIssuer _class="hudson.security.csrf.DefaultCrumbIssuer"><crumb>${crumb}</crumb><crumbRequestField>Jenkins-Crumb</crumbRequestField></defaultCrumbIssuer>`);
      return;
    }
    this.json(res, { _class: 'hudson.security.csrf.DefaultCrumbIssuer', crumb, crumbRequestField: 'Jenkins-Crumb' }, url);
  }

  private cancelItem(res: ServerResponse, idText: string | null): void {
    // Queue.doCancelItem since 2.211 (ref §3.2): 204 cancelled, 404 unknown, 500 already left.
    const id = Number(idText);
    const item = this.queue.find((q) => q.id === id);
    if (!idText || !item) return this.error(res, 404, `Provided id (${idText ?? ''}) not found`);
    if (item.state === 'left') return this.error(res, 500, `Could not cancel run for id ${id}`);
    this.leave(item, true);
    this.pump();
    res.writeHead(204);
    res.end();
  }

  private queueItemRoute(res: ServerResponse, url: URL, method: string, id: number, rest: string): void | Promise<void> {
    const item = this.queue.find((q) => q.id === id);
    if (!item) return this.error(res, 404, `No queue item ${id}`);
    if (rest === 'api/json') return this.json(res, this.queueItemJson(item), url);
    if (rest === 'cancelQueue') {
      // Deprecated Item.doCancelQueue: 204 whether or not anything was cancelled.
      return this.requirePost(method, res, () => {
        if (item.state !== 'left') {
          this.leave(item, true);
          this.pump();
        }
        res.writeHead(204);
        res.end();
      });
    }
    if (rest === '') {
      res.writeHead(200, { 'Content-Type': 'text/plain;charset=utf-8' });
      res.end(`Queue item exists. For details check, for example, ${this.baseUrl}/queue/item/${id}/api/json?tree=cancelled,executable[url]`);
      return;
    }
    this.error(res, 404, `Not found: queue/item/${id}/${rest}`);
  }

  private createItem(res: ServerResponse, url: URL, body: Buffer): void {
    const name = url.searchParams.get('name');
    if (!name) throw new JenkinsException(400, 'hudson.model.Failure', 'Query parameter \'name\' is required');
    const bad = /[\\/:?#[\]!@$%^&*|<>;]/.exec(name);
    if (bad) throw new JenkinsException(400, 'hudson.model.Failure', `‘${bad[0]}’ is an unsafe character`);
    if (this.jobs.has(name)) throw new JenkinsException(400, 'hudson.model.Failure', `A job already exists with the name ‘${name}’`);
    if (!body.length) throw new JenkinsException(400, 'hudson.model.Failure', 'No config.xml was sent: POST the job\'s config.xml with Content-Type: application/xml');
    const xml = body.toString('utf8');
    const cfg = this.parseConfigOr400(xml);
    const job = this.addJob(name, cfg.params, cfg.description);
    Object.assign(job, { disabled: cfg.disabled, concurrent: cfg.concurrent, configXml: xml });
    this.persist();
    res.writeHead(200, { 'Content-Length': '0' });
    res.end();
  }

  private parseConfigOr400(xml: string) {
    try {
      return parseConfigXml(xml);
    } catch (err) {
      if (err instanceof ConfigXmlError) throw new JenkinsException(400, 'java.io.IOException', err.message);
      throw err;
    }
  }

  // ---------------------------------------------------------------- /job/{name}/...

  private async jobRoute(req: IncomingMessage, res: ServerResponse, url: URL, method: string, auth: Auth, job: JobRecord, rest: string, body: Buffer, form: URLSearchParams): Promise<void> {
    if (rest === '/' || rest === '') return this.html(res, 200, page(job.name, `<h1>Pipeline ${escapeHtml(job.name)}</h1><p>${escapeHtml(job.description)}</p>`));
    if (rest === '/api/json') {
      const full = jobJson(this.baseUrl, job, this.findQueued(job.name), (q) => this.queueItemJson(q));
      return this.json(res, url.searchParams.has('tree') ? full : jobJsonDefault(full), url);
    }
    if (rest === '/config.xml') {
      if (method === 'POST') {
        const xml = body.toString('utf8');
        const cfg = this.parseConfigOr400(xml);
        Object.assign(job, { description: cfg.description, params: cfg.params, disabled: cfg.disabled, concurrent: cfg.concurrent, configXml: xml });
        this.persist();
        res.writeHead(200, { 'Content-Length': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/xml;charset=utf-8' });
      res.end(job.configXml);
      return;
    }
    if (rest === '/buildWithParameters') return this.requirePost(method, res, () => this.buildWithParameters(res, req, url, auth, job, form));
    if (rest === '/build') return this.requirePost(method, res, () => this.build(res, req, url, auth, job, form));
    if (rest === '/disable' || rest === '/enable') {
      return this.requirePost(method, res, () => {
        job.disabled = rest === '/disable';
        this.persist();
        this.redirect(res, 302, jobUrl(this.baseUrl, job.name));
      });
    }
    if (rest === '/cancelQueue') {
      return this.requirePost(method, res, () => {
        for (const q of this.queue) if (q.jobName === job.name && q.state !== 'left') this.leave(q, true);
        this.redirect(res, 302, jobUrl(this.baseUrl, job.name));
      });
    }
    if (rest === '/wfapi' || rest === '/wfapi/describe') {
      return this.wfJson(res, { _links: { self: { href: `/${jobPathOnly(job.name)}wfapi/describe` }, runs: { href: `/${jobPathOnly(job.name)}wfapi/runs` } }, name: job.name, runCount: job.builds.length });
    }
    if (rest === '/wfapi/runs') {
      const since = url.searchParams.get('since');
      const out: unknown[] = [];
      for (const b of [...job.builds].reverse()) {
        out.push(describeRun(job, b));
        if (out.length >= 10 || (since && `#${b.number}` === since)) break; // JobExt.maxRunsPerJob = 10
      }
      return this.wfJson(res, out);
    }
    const m = /^\/([^/]+)(\/.*)?$/.exec(rest);
    if (!m) return this.error(res, 404, `Not found: ${url.pathname}`);
    const build = this.findBuild(job, m[1]!);
    if (!build) return this.error(res, 404, `No build ${m[1]} of ${job.name}`);
    return this.buildRoute(res, url, method, auth, job, build, m[2] ?? '/', form);
  }

  private locationBase(req: IncomingMessage): string {
    // Stapler makes Location absolute from the request's idea of the host (ref §2.2, §10 gotcha 6).
    return req.headers.host ? `http://${req.headers.host}` : this.baseUrl;
  }

  private buildWithParameters(res: ServerResponse, req: IncomingMessage, url: URL, auth: Auth, job: JobRecord, form: URLSearchParams): void {
    // ParameterizedJobMixIn.doBuildWithParameters (ref §2.2); 409/400 codes as in Jenkins ≥ 2.524.
    if (job.disabled) throw new JenkinsException(409, 'hudson.model.Failure', `${job.name} is not buildable`);
    if (!job.params) throw new JenkinsException(400, 'hudson.model.Failure', `${job.name} is not parameterized`);
    const submitted = new URLSearchParams(url.searchParams);
    for (const [k, v] of form) submitted.append(k, v);
    const values = valuesFromRequest(job.params, submitted);
    const delay = submitted.get('delay');
    const { item, created } = this.enqueue(job, values, auth.user, delay !== null ? parseDelayMs(delay) : null);
    this.redirect(res, created ? 201 : 303, `${this.locationBase(req)}/queue/item/${item.id}/`);
  }

  private build(res: ServerResponse, req: IncomingMessage, url: URL, auth: Auth, job: JobRecord, form: URLSearchParams): void {
    // ParameterizedJobMixIn.doBuild (ref §2.3).
    if (job.disabled) throw new JenkinsException(409, 'hudson.model.Failure', `${job.name} is not buildable`);
    const values = job.params ? valuesFromJsonForm(job.params, form.get('json')) : null;
    const delay = url.searchParams.get('delay') ?? form.get('delay');
    const { item } = this.enqueue(job, values, auth.user, delay !== null ? parseDelayMs(delay) : null);
    // Non-parameterized /build stays 201 even when merged (JENKINS-66105); parameterized uses formData statusCode (201).
    this.redirect(res, 201, `${this.locationBase(req)}/queue/item/${item.id}/`);
  }

  private async buildRoute(res: ServerResponse, url: URL, method: string, auth: Auth, job: JobRecord, build: BuildRecord, rest: string, form: URLSearchParams): Promise<void> {
    const bUrl = buildUrl(this.baseUrl, job.name, build.number);
    if (rest === '/' || rest === '') return this.html(res, 200, page(`${job.name} #${build.number}`, `<h1>${escapeHtml(build.displayName ?? `#${build.number}`)}</h1><p>${escapeHtml(build.description ?? '')}</p>`));
    if (rest === '/api/json') return this.json(res, runJson(this.baseUrl, job, build), url);
    if (rest === '/logText/progressiveText') return this.progressiveText(res, url, build, form);
    if (rest === '/consoleText') {
      // WorkflowRun.doConsoleText: notes stripped, no CRLF normalisation (ref §5.3).
      res.writeHead(200, { 'Content-Type': 'text/plain;charset=utf-8' });
      res.end(build.log.plainText());
      return;
    }
    if (rest === '/wfapi/describe' || rest === '/wfapi') return this.wfJson(res, describeRun(job, build, url.searchParams.get('fullStages') === 'true'));
    if (rest === '/wfapi/artifacts') {
      return this.wfJson(
        res,
        build.artifacts.map((a, i) => ({ id: `n${i + 1}`, name: a.split('/').pop(), path: a, url: `/${jobPathOnly(job.name)}${build.number}/artifact/${encodePath(a)}`, size: this.artifactSize(job, build, a) })),
      );
    }
    let m = /^\/execution\/node\/(\d+)\/wfapi\/(log|describe)$/.exec(rest);
    if (m) return this.nodeRoute(res, job, build, m[1]!, m[2]!);
    m = /^\/artifact(\/.*)?$/.exec(rest);
    if (m) return this.artifactRoute(res, url, job, build, m[1] ?? '');
    if (rest === '/stop' || rest === '/term' || rest === '/kill') return this.requirePost(method, res, () => this.stopBuild(res, auth, job, build, rest.slice(1) as 'stop' | 'term' | 'kill', bUrl));
    if (rest === '/submitDescription') {
      return this.requirePost(method, res, () => {
        build.description = form.get('description') ?? url.searchParams.get('description') ?? '';
        this.persist();
        this.redirect(res, 302, bUrl);
      });
    }
    return this.error(res, 404, `Not found: ${url.pathname}`);
  }

  private progressiveText(res: ServerResponse, url: URL, build: BuildRecord, form: URLSearchParams): void {
    // LargeText.doProgressText (ref §5.1): classic contract — while running, only complete lines and
    // X-Text-Size just after the last one; X-More-Data: true only while running; LF → CRLF.
    const startText = url.searchParams.get('start') ?? form.get('start') ?? '0';
    if (!/^-?\d+$/.test(startText)) throw new JenkinsException(500, 'java.lang.NumberFormatException', `For input string: "${startText}"`);
    const bytes = build.log.bytes();
    let start = Math.max(0, Number(startText));
    if (start > bytes.length) start = 0; // "text rolled over": start from the beginning again
    const complete = !build.building;
    let end = bytes.length;
    if (!complete) {
      const lastNl = bytes.lastIndexOf(0x0a, end - 1);
      end = lastNl >= start ? lastNl + 1 : start;
    }
    const headers: Record<string, string> = { 'Content-Type': 'text/plain;charset=utf-8', 'X-Text-Size': String(end) };
    if (!complete) headers['X-More-Data'] = 'true';
    res.writeHead(200, headers);
    res.end(normalizeLineEnds(bytes.subarray(start, end).toString('utf8')));
  }

  private wfJson(res: ServerResponse, value: unknown): void {
    res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(value));
  }

  private nodeRoute(res: ServerResponse, job: JobRecord, build: BuildRecord, id: string, what: string): void {
    const base = `/${jobPathOnly(job.name)}${build.number}`;
    const stage = build.stages.find((s) => s.id === id);
    const step = build.stages.find((s) => s.stepId === id);
    if (!stage && !step) return this.error(res, 404, `No flow node ${id}`);
    if (what === 'describe') {
      if (stage) return this.wfJson(res, { ...(describeRun(job, build, true) as { stages: { id: string }[] }).stages.find((s) => s.id === id) });
      return this.wfJson(res, stepNode(base, step!));
    }
    // FlowNodeLogExt: only step nodes have text; at most the last 10 KiB, as HTML (ref §6.1).
    const nodeStatus = (stage ?? step)!.status === 'FAILED' ? 'FAILED' : (stage ?? step)!.status === 'ABORTED' ? 'ABORTED' : 'SUCCESS';
    const text = step ? step.text : '';
    const max = 10 * 1024;
    const tail = text.length > max ? text.slice(-max) : text;
    return this.wfJson(res, { nodeId: id, nodeStatus, length: tail.length, hasMore: text.length > max, text: escapeHtml(tail), consoleUrl: `${base}/execution/node/${id}/log` });
  }

  private artifactSize(job: JobRecord, build: BuildRecord, rel: string): number {
    try {
      return statSync(path.join(this.opts.store.archiveDir(job.name, build.number), rel)).size;
    } catch {
      return 0;
    }
  }

  private artifactRoute(res: ServerResponse, url: URL, job: JobRecord, build: BuildRecord, sub: string): void {
    // DirectoryBrowserSupport (ref §7).
    const root = this.opts.store.archiveDir(job.name, build.number);
    const segments = sub.split('/').filter((s) => s !== '');
    const zipAt = segments.indexOf('*zip*');
    if (zipAt >= 0) {
      const dirSegs = segments.slice(0, zipAt).map(decodeURIComponent);
      if (dirSegs.some((s) => s === '..' || s === '.')) return this.error(res, 404, 'Not found');
      const dir = path.join(root, ...dirSegs);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) return this.error(res, 404, 'No artifacts');
      // Entries are prefixed with the directory's name: "archive/…" at the root (JENKINS-19947).
      const prefix = dirSegs.length ? dirSegs[dirSegs.length - 1]! : 'archive';
      const zip = new yazl.ZipFile();
      for (const rel of walk(dir)) zip.addFile(path.join(dir, rel), `${prefix}/${rel}`);
      zip.end();
      res.writeHead(200, { 'Content-Type': 'application/zip' });
      zip.outputStream.pipe(res);
      return;
    }
    const decoded = segments.map((s) => decodeURIComponent(s));
    if (decoded.some((s) => s === '..' || s === '.' || s.includes('\\')) || sub.startsWith('//')) return this.error(res, 404, 'Not found');
    const file = path.join(root, ...decoded);
    if (!file.startsWith(root) || !existsSync(file)) return this.error(res, 404, `No artifact ${decoded.join('/')}`);
    const st = statSync(file);
    if (st.isDirectory()) {
      if (!url.pathname.endsWith('/')) return this.redirect(res, 302, `${url.pathname}/`);
      const entries = readdirSync(file, { withFileTypes: true }).map((e) => `<li><a href="${encodeURIComponent(e.name)}${e.isDirectory() ? '/' : ''}">${escapeHtml(e.name)}</a></li>`);
      return this.html(res, 200, page('Artifacts', `<ul>${entries.join('')}</ul>`));
    }
    res.writeHead(200, {
      'Content-Type': contentTypeOf(file),
      'Content-Length': String(st.size),
      'Last-Modified': st.mtime.toUTCString(),
      // Jenkins' default DirectoryBrowserSupport CSP.
      'Content-Security-Policy': "sandbox; default-src 'none'; img-src 'self'; style-src 'self';",
    });
    res.end(readFileSync(file));
  }

  private stopBuild(res: ServerResponse, auth: Auth, job: JobRecord, build: BuildRecord, how: 'stop' | 'term' | 'kill', bUrl: string): void {
    // WorkflowRun.doStop / doTerm / doKill (ref §8): 302 back to the build; a finished build is a no-op.
    if (build.building) {
      if (how === 'kill') {
        build.hardKilled = true;
        build.log.line('Hard kill!');
        build.abort.abort(new Error('killed'));
        for (const s of build.stages) if (s.status === 'IN_PROGRESS') {
          s.status = 'ABORTED';
          s.durationMillis = Date.now() - s.startTimeMillis;
        }
        build.log.line('Finished: ABORTED');
        build.log.seal();
        this.finish(job, build, 'ABORTED');
      } else if (!build.abort.signal.aborted) {
        build.log.line(`Aborted by ${auth.user}`);
        build.abort.abort(new Error(`Aborted by ${auth.user}`));
      }
    }
    this.redirect(res, 302, bUrl);
  }
}
