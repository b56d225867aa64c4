/**
 * Runs API (seed: api/routes/ci.py): create, read, list, cancel, artifacts,
 * human summary, and the live log WebSocket.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { notFound, unprocessable } from '../../ci/errors.js';
import type { LogHub, HubEvent } from '../../ci/logs/log_hub.js';
import { CreateRunBody, ErrorBody, Run, RunKind, RunStatus, RunSummary, isTerminal } from '../../ci/models.js';
import type { RunService } from '../../ci/run_service.js';
import { stageToApi } from '../../ci/run_view.js';
import type { Redactor } from '../../ci/redact.js';
import { decodeCursor, type RunStore } from '../../store/run_store.js';
import type { AuthSeam } from '../auth_seam.js';
import { artifactHeaders, safeArtifactPath } from '../../security/http.js';

export interface CiRouteDeps {
  config: Config;
  service: RunService;
  store: RunStore;
  hub: LogHub;
  auth: AuthSeam;
  redactor: Redactor;
}

const RunIdParams = z.object({ id: z.string().uuid({ message: 'run id must be a UUID as returned by POST /ci/runs' }) });
const statusList = z
  .string()
  .max(200)
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(RunStatus));
const isoDate = z.string().max(40).refine((s) => !Number.isNaN(Date.parse(s)), { message: 'must be an ISO-8601 date, e.g. 2026-12-01 or 2026-12-01T10:00:00Z' });
const ListQuery = z
  .object({
    status: statusList.optional(),
    app: z.string().max(64).optional(),
    env: z.string().max(64).optional(),
    initiator: z.string().max(128).optional(),
    kind: RunKind.optional(),
    from: isoDate.optional(),
    to: isoDate.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z
      .string()
      .max(500)
      .refine((c) => decodeCursor(c) !== null, { message: 'is not a cursor this API issued; pass next_cursor from the previous page, or omit it for the first page' })
      .optional(),
  })
  .strict();
const LogsQuery = z
  .object({
    from: z.coerce.number().int().min(0).default(0),
    format: z.enum(['text', 'json']).default('text'),
    ticket: z.string().max(200).optional(),
  })
  .strict();

/** Largest amount a viewer may fall behind before we drop it (it reconnects with from=<seq>). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const PING_MS = 15_000;

export async function ciRoutes(app: FastifyInstance, deps: CiRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { service, auth } = deps;

  r.post(
    '/ci/runs',
    {
      onRequest: auth.requireRole('deployer'),
      schema: {
        summary: 'Start a run (deploy WeSign to an environment)',
        tags: ['runs'],
        body: CreateRunBody,
        response: { 202: z.object({ run_id: z.string(), status: z.literal('queued'), queue_position: z.number().nullable() }), 422: ErrorBody },
      },
    },
    async (request, reply) => {
      const who = auth.principal(request)!;
      const out = await service.create(request.body, who.name);
      await auth.audit(request, 'run.start', out.run_id, { app: request.body.app, env: request.body.env, branch_or_tag: request.body.branch_or_tag, dry_run: request.body.dry_run });
      return reply.status(202).send(out);
    },
  );

  r.get(
    '/ci/runs',
    { onRequest: auth.requireRole('viewer'), schema: { summary: 'Run history, newest first', tags: ['runs'], querystring: ListQuery, response: { 200: z.object({ runs: z.array(RunSummary), next_cursor: z.string().nullable() }) } } },
    async (request) => {
      const q = request.query;
      if (q.from && q.to && Date.parse(q.from) > Date.parse(q.to)) throw unprocessable('"from" is after "to"; swap them.');
      return service.list({
        ...(q.status ? { status: q.status } : {}),
        ...(q.app ? { app: q.app } : {}),
        ...(q.env ? { env: q.env } : {}),
        ...(q.initiator ? { initiator: q.initiator } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.from ? { from: new Date(q.from).toISOString() } : {}),
        ...(q.to ? { to: new Date(q.to).toISOString() } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
        limit: q.limit,
      });
    },
  );

  r.get(
    '/ci/runs/:id',
    { onRequest: auth.requireRole('viewer'), schema: { summary: 'One run: status, stages, artifacts, metrics', tags: ['runs'], params: RunIdParams, response: { 200: Run, 404: ErrorBody } } },
    async (request) => service.get(request.params.id),
  );

  r.post(
    '/ci/runs/:id/cancel',
    { onRequest: auth.requireRole('deployer'), schema: { summary: 'Cancel a run (stops its Jenkins build)', tags: ['runs'], params: RunIdParams } },
    async (request, reply) => {
      const out = await service.cancel(request.params.id);
      await auth.audit(request, 'run.cancel', request.params.id);
      return reply.status(202).send(out);
    },
  );

  r.get(
    '/ci/runs/:id/summary.md',
    { onRequest: auth.requireRole('viewer'), schema: { summary: 'The human summary (Markdown)', tags: ['runs'], params: RunIdParams } },
    async (request, reply) => {
      await service.mustGet(request.params.id);
      const file = path.join(deps.config.artifactStore, 'runs', request.params.id, 'summary.md');
      try {
        await stat(file);
      } catch {
        throw notFound(`The summary of run ${request.params.id}`, 'it is written when the run has finished');
      }
      return reply.type('text/markdown; charset=utf-8').header('X-Content-Type-Options', 'nosniff').send(createReadStream(file));
    },
  );

  r.get(
    '/ci/runs/:id/artifacts/*',
    { onRequest: auth.requireRole('viewer'), schema: { summary: 'One artifact of a run, served sandboxed', tags: ['runs'], params: RunIdParams.extend({ '*': z.string().max(500) }) } },
    async (request, reply) => {
      const { id } = request.params;
      const wanted = request.params['*'];
      await service.mustGet(id);
      // The name is checked (no traversal, NUL, backslashes, encoded dots, symlinks out of the folder)…
      const file = await safeArtifactPath(path.join(deps.config.artifactStore, 'runs', id), wanted);
      // …and must be one the run recorded.
      const row = (await deps.store.getArtifacts(id)).find((a) => a.path === wanted);
      if (!row) throw notFound(`Artifact "${wanted}" of run ${id}`, 'the run lists its artifacts in GET /ci/runs/{id}');
      // A report's scripts may run, but never with the app's origin (DESIGN §5).
      return artifactHeaders(reply)
        .type(row.content_type)
        .header('Content-Disposition', `inline; filename="${row.name.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
        .send(createReadStream(file));
    },
  );

  app.get('/ci/runs/:id/logs', { websocket: true, schema: { hide: true } as object }, async (socket: WebSocket, request) => {
    const fail = (code: string, message: string, closeCode: number) => {
      socket.send(JSON.stringify({ type: 'error', code, message }));
      socket.close(closeCode, code);
    };
    const params = RunIdParams.safeParse(request.params);
    const query = LogsQuery.safeParse(request.query);
    if (!params.success) return fail('invalid_input', 'run id must be a UUID as returned by POST /ci/runs', 4422);
    if (!query.success) return fail('invalid_input', `bad query: ${query.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}; use ?from=<seq>&format=text|json`, 4422);
    const who = await auth.verifyWs(request);
    if (!who) return fail('unauthorized', 'sign in first; the WebSocket takes the session cookie or a ticket from POST /ci/auth/ws-ticket', 4401);
    const runId = params.data.id;
    const { from, format } = query.data;
    const run = await deps.store.getRun(runId);
    if (!run) return fail('not_found', `run ${runId} was not found`, 4404);
    await streamRun(socket, deps, runId, from, format);
  });
}

/**
 * History first, then live, with one cursor: subscribe, replay from the store,
 * then flush what arrived meanwhile, skipping seqs already sent.
 */
async function streamRun(socket: WebSocket, deps: CiRouteDeps, runId: string, from: number, format: 'text' | 'json') {
  let lastSent = from;
  let replaying = true;
  let closed = false;
  const buffered: HubEvent[] = [];

  const send = (obj: unknown, text?: string) => {
    if (closed) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      // A slow viewer must not hold memory or slow the others: drop it, it resumes with from=<seq>.
      closed = true;
      socket.send(JSON.stringify({ type: 'error', code: 'slow_consumer', message: `too far behind; reconnect with from=${lastSent}` }));
      socket.close(4408, 'slow_consumer');
      return;
    }
    socket.send(format === 'json' ? JSON.stringify(obj) : (text ?? ''));
  };
  const deliver = (e: HubEvent) => {
    if (e.type === 'log') {
      if (e.seq <= lastSent) return;
      lastSent = e.seq;
      send(e, `[${e.stage}] ${e.text}`);
    } else if (format === 'json') {
      send(e);
    }
    if (e.type === 'status' && isTerminal(e.status)) void finish(e.status);
  };
  const finish = async (status: string) => {
    if (closed) return;
    // Lines published before the status event are already sent; read once more in case we are behind.
    await replay();
    if (format === 'json') send({ type: 'end', seq: lastSent, status });
    closed = true;
    socket.close(1000, status);
  };
  const replay = async () => {
    for (;;) {
      const page = await deps.store.readLogs(runId, lastSent, 1000);
      for (const l of page) {
        lastSent = l.seq;
        send({ type: 'log', seq: l.seq, stage: l.stage, text: l.text, ts: l.ts }, `[${l.stage}] ${l.text}`);
      }
      if (page.length < 1000 || closed) return;
    }
  };

  const unsubscribe = deps.hub.subscribe(runId, (e) => (replaying ? buffered.push(e) : deliver(e)));
  const ping = setInterval(() => (format === 'json' ? send({ type: 'ping', ts: new Date().toISOString() }) : socket.ping()), PING_MS);
  socket.on('close', () => {
    closed = true;
    unsubscribe();
    clearInterval(ping);
  });
  socket.on('message', (data) => {
    // The stream is one-way; anything a client sends is answered, never trusted.
    if (String(data).length > 1024 || String(data) !== 'ping') send({ type: 'error', code: 'unexpected_frame', message: 'this stream is read-only; reconnect with ?from=<seq> to resume' });
  });

  try {
    if (format === 'json') {
      // The snapshot carries each stage's typical duration, so "elapsed vs typical" shows at once.
      const run = await deps.store.getRun(runId);
      const typical = run ? await deps.store.typicalStageDurations(run.app, run.env, 20) : {};
      for (const s of await deps.store.getStages(runId)) send({ type: 'stage', seq: lastSent, stage: stageToApi(s, typical[s.id]) });
    }
    await replay();
    replaying = false;
    for (const e of buffered.splice(0)) deliver(e);
    const row = await deps.store.getRun(runId);
    if (row && isTerminal(row.status as RunStatus)) {
      if (format === 'json') send({ type: 'status', seq: lastSent, status: row.status, reason: row.reason ? deps.redactor.mask(row.reason) : null });
      await finish(row.status);
    } else if (row && format === 'json') {
      send({ type: 'status', seq: lastSent, status: row.status, reason: row.reason });
    }
  } catch (err) {
    if (!closed) {
      socket.send(JSON.stringify({ type: 'error', code: 'internal_error', message: 'the log stream failed; reconnect with from=' + lastSent }));
      socket.close(1011, 'internal_error');
    }
    throw err;
  }
}
