/** Liveness, readiness and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { CiProvider } from '../../ci/providers/provider.js';
import type { RunStore } from '../../store/run_store.js';
import type { JobQueue } from '../../ci/queue/job_queue.js';

export async function healthRoutes(app: FastifyInstance, deps: { store: RunStore; provider: CiProvider; registry: Registry; sandbox: boolean; queue: JobQueue }) {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'The process is alive' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['health'], summary: 'The database answers (Jenkins reachability is reported, not required)' } }, async (_request, reply) => {
    const checks: Record<string, string> = {};
    let ready = true;
    try {
      await deps.store.ping();
      checks.database = 'ok';
    } catch {
      checks.database = 'unreachable';
      ready = false;
    }
    if (deps.queue.ping) {
      try {
        await deps.queue.ping();
        checks.queue = 'ok';
      } catch {
        checks.queue = 'unreachable (REDIS_URL)';
        ready = false;
      }
    }
    // Jenkins down does not make *us* unready: runs wait and retry; the page shows it.
    const ping = await deps.provider.ping(AbortSignal.timeout(2000)).then(
      () => 'ok',
      (err: Error) => `unreachable: ${err.message}`,
    );
    checks.jenkins = ping;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks, sandbox: deps.sandbox });
  });

  app.get('/metrics', { schema: { hide: true } as object }, async (_request, reply) => reply.type(deps.registry.contentType).send(await deps.registry.metrics()));
}
