/**
 * The application: builds every service from the validated config and
 * registers the routes. server.ts only adds the process concerns (listen,
 * signals). Tests call buildApp() and listen on port 0.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import pino, { type Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from './config.js';
import { createRedactor, type Redactor } from './ci/redact.js';
import { openDatabase, migrateToLatest, type OpenedDatabase } from './store/db.js';
import { KyselyRunStore, type RunStore } from './store/run_store.js';
import type { LogHub } from './ci/logs/log_hub.js';
import { RunEvents } from './ci/events.js';
import { Orchestrator, leaseMsOf } from './ci/orchestrator.js';
import { createJobQueue, createLogHub } from './scale/factory.js';
import type { JobQueue } from './ci/queue/job_queue.js';
import { RunService } from './ci/run_service.js';
import { JenkinsClient } from './ci/providers/jenkins_client.js';
import type { CiProvider } from './ci/providers/provider.js';
import { createNotifiers } from './ci/notify.js';
// The sandbox (emulated Jenkins + DevTest) is imported only when it is used: see buildApp.
import type { Sandbox } from './sandbox/index.js';
import { registerErrorHandler } from './api/errors.js';
import type { AuthSeam } from './api/auth_seam.js';
import { assertAuthModeAllowed } from './auth/config.js';
import { authPlugin } from './auth/plugin.js';
import { createAuthSeam } from './auth/seam.js';
import { hardenedServerOptions, registerHttpHardening } from './security/http.js';
import { ciRoutes } from './api/routes/ci.js';
import { environmentRoutes } from './api/routes/environments.js';
import { healthRoutes } from './api/routes/health.js';
import { sandboxRoutes } from './api/routes/sandbox.js';

export interface Services {
  config: Config;
  db: OpenedDatabase;
  store: RunStore;
  hub: LogHub;
  events: RunEvents;
  queue: JobQueue;
  provider: CiProvider;
  service: RunService;
  sandbox: Sandbox | null;
  redactor: Redactor;
  log: Logger;
}

export interface BuildOptions {
  /** Use this sandbox instead of starting one (tests share one across apps). */
  sandbox?: Sandbox;
  /** Don't start the worker (an API-only instance). */
  startWorker?: boolean;
  logger?: Logger;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** pino with the one redaction function on every line it writes. */
export function createLogger(config: Config, redactor: Redactor, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', '*.password', '*.token', '*.apiToken'], censor: '****' },
      hooks: {
        // Masks secrets in the message and in every string of the serialised line.
        streamWrite: (s: string) => redactor.mask(s),
      },
    },
    destination,
  );
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<{ app: FastifyInstance; services: Services }> {
  // AUTH_MODE=none only with the sandbox and only on loopback (DESIGN §6): refuse anything else before starting.
  assertAuthModeAllowed({ authMode: config.auth.mode, host: config.host, sandbox: !config.jenkins.url });
  let sandbox: Sandbox | null = null;
  let jenkins = { url: config.jenkins.url, user: config.jenkins.user, token: config.jenkins.apiToken };
  if (!config.jenkins.url) {
    // DESIGN §1: no JENKINS_URL → the Jenkins-compatible sandbox, on loopback, in this process.
    // Loaded lazily: with a real Jenkins its modules (HTTP emulator, pipeline, XML, zip) never load.
    sandbox =
      options.sandbox ??
      (await (await import('./sandbox/index.js')).startSandbox({
        host: '127.0.0.1',
        port: 0,
        timeScale: config.sandboxTimeScale,
        jobs: [...new Set(config.environments.map((e) => e.JENKINS_JOB_NAME))],
      }));
    jenkins = { url: sandbox.jenkinsUrl, user: sandbox.user, token: sandbox.token };
  }
  const redactor = createRedactor([...config.secrets, ...(jenkins.token ? [jenkins.token] : [])]);
  const log = options.logger ?? createLogger(config, redactor);

  // Checkpoints on a worker thread: a big console is stored without copying pages on the event loop.
  const db = await openDatabase(config.databaseUrl, { backgroundCheckpoints: true });
  await migrateToLatest(db.db);
  const store = new KyselyRunStore(db.db, { sqlite: db.sqlite });
  // REDIS_URL: Redis pub/sub fan-out across instances; otherwise in-process.
  const hub: LogHub = await createLogHub({ redisUrl: config.redisUrl, store, log });
  const events = new RunEvents((err, event) => log.warn({ err, event }, 'an event listener failed'));

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const jenkinsRequests = new Counter({ name: 'qaci_jenkins_requests_total', help: 'Requests to Jenkins', labelNames: ['method', 'status'], registers: [registry] });
  const runsFinished = new Counter({ name: 'qaci_runs_finished_total', help: 'Runs that reached a final status', labelNames: ['status'], registers: [registry] });
  const runsStarted = new Counter({ name: 'qaci_runs_queued_total', help: 'Runs requested', registers: [registry] });
  const stageChanges = new Counter({ name: 'qaci_stage_changes_total', help: 'Stage status changes', labelNames: ['stage', 'status'], registers: [registry] });
  new Gauge({ name: 'qaci_ws_viewers', help: 'Connected live-log viewers', registers: [registry], collect() { this.set(hub.viewers()); } });
  const runDuration = new Histogram({ name: 'qaci_run_duration_seconds', help: 'Run duration', buckets: [10, 30, 60, 120, 300, 600, 1800, 3600], registers: [registry] });
  events.on('run:queued', () => runsStarted.inc());
  events.on('stage:changed', (e) => stageChanges.inc({ stage: e.stage, status: e.status }));
  events.on('run:finished', (e) => {
    runsFinished.inc({ status: e.status });
    void store.getRun(e.runId).then((r) => r?.started_at && r.finished_at && runDuration.observe((Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000));
  });

  const provider: CiProvider = new JenkinsClient({
    baseUrl: jenkins.url!,
    user: jenkins.user!,
    apiToken: jenkins.token!,
    onRequest: (method, _path, status) => jenkinsRequests.inc({ method, status: status === null ? 'none' : String(status) }),
  });
  const notifiers = createNotifiers({
    ...(config.notify.teamsWebhookUrl ? { teamsWebhookUrl: config.notify.teamsWebhookUrl } : {}),
    ...(config.notify.smtp ? { smtp: config.notify.smtp } : {}),
    redactor,
  });
  const orchestrator = new Orchestrator({ config, store, hub, provider, redactor, notifiers, events, log, sandbox: !!sandbox });
  // REDIS_URL: BullMQ workers across processes; otherwise the embedded queue claims from the DB.
  const queue: JobQueue = await createJobQueue({
    config,
    store,
    orchestrator,
    log: log.child({ component: 'queue' }),
    leaseMs: leaseMsOf(config),
    redisUrl: config.redisUrl,
    // SQLite without Redis is one instance: leases left by a killed process are ours to take.
    reclaimOnStart: db.kind === 'sqlite' && !config.redisUrl,
  });
  const service = new RunService({ config, store, queue, events, sandbox: !!sandbox });
  const auth: AuthSeam = createAuthSeam({ db: db.db, redactor });

  const app = Fastify({ loggerInstance: log as unknown as FastifyBaseLogger, ...hardenedServerOptions(config.auth) });
  // The API speaks JSON only: a text/plain body is a 415 that says so, not a confusing 422.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app, redactor);
  await registerHttpHardening(app, { auth: config.auth, host: config.host });
  await app.register(fastifyWebsocket, { options: { maxPayload: 4096 } });
  await app.register(authPlugin, { config: config.auth, db: db.db, redactor, sandbox: !!sandbox });
  // An upgrade request answered with an HTTP error (bad path, 401) keeps its socket: Node
  // hands upgrade sockets to us, and nothing else closes them. The websocket plugin's
  // preClose (registered above, so it runs first) closes live streams politely; we then
  // destroy whatever is left, so shutting down never waits on a dead upgrade.
  const upgradeSockets = new Set<import('node:stream').Duplex>();
  app.server.on('upgrade', (_req, socket) => {
    upgradeSockets.add(socket);
    socket.once('close', () => upgradeSockets.delete(socket));
  });
  app.addHook('preClose', async () => {
    for (const s of upgradeSockets) s.destroy();
  });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'QA Intelligence CI/CD API', version: '0.1.0', description: 'Start, follow and judge deploys of WeSign to DevTest through Jenkins.' },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  await app.register(async (scope) => {
    await ciRoutes(scope, { config, service, store, hub, auth, redactor });
    await environmentRoutes(scope, { service, auth });
    await sandboxRoutes(scope, { sandbox, auth });
    await healthRoutes(scope, { store, provider, registry, sandbox: !!sandbox, queue });
  });

  const dist = config.frontendDist ? path.resolve(config.frontendDist) : path.join(repoRoot, 'frontend', 'dist');
  if (existsSync(path.join(dist, 'index.html'))) {
    await app.register(fastifyStatic, { root: dist, prefix: '/', wildcard: false, index: 'index.html' });
  } else {
    app.get('/', async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send('QA Intelligence CI/CD backend is running. The page is not built: run `npm run build -w frontend` (npm start does it). API docs: /docs'),
    );
  }

  const services: Services = { config, db, store, hub, events, queue, provider, service, sandbox, redactor, log };
  app.addHook('onClose', async () => {
    await queue.stop();
    await hub.close();
    if (sandbox && !options.sandbox) await sandbox.close();
    await db.close();
  });
  if ((options.startWorker ?? config.worker) !== false) await queue.start();
  return { app, services };
}
