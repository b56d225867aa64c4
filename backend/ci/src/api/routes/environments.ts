/** Environments: what is deployed where, N-1 rollback, and DORA-style metrics. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Deployment, Environment, ErrorBody, RollbackBody } from '../../ci/models.js';
import type { RunService } from '../../ci/run_service.js';
import type { AuthSeam } from '../auth_seam.js';

const EnvParams = z.object({ env: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only') });
const AppQuery = z.object({ app: z.string().min(1).max(64).default('WeSign') }).strict();

export async function environmentRoutes(app: FastifyInstance, deps: { service: RunService; auth: AuthSeam }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { service, auth } = deps;

  r.get(
    '/ci/environments',
    { onRequest: auth.requireRole('viewer'), schema: { summary: 'Environments: current version, last deployment, active run, queue', tags: ['environments'], response: { 200: z.object({ environments: z.array(Environment) }) } } },
    async () => ({ environments: await service.environments() }),
  );

  r.get(
    '/ci/environments/:env/deployments',
    { onRequest: auth.requireRole('viewer'), schema: { summary: 'Deployment history of one environment', tags: ['environments'], params: EnvParams, querystring: AppQuery, response: { 200: z.object({ deployments: z.array(Deployment) }) } } },
    async (request) => ({ deployments: await service.deployments(request.query.app, request.params.env) }),
  );

  r.get(
    '/ci/environments/:env/metrics',
    {
      onRequest: auth.requireRole('viewer'),
      schema: {
        summary: 'Deployment frequency, change failure rate, time to restore, lead time',
        tags: ['environments'],
        params: EnvParams,
        querystring: z.object({ app: z.string().min(1).max(64).default('WeSign'), days: z.coerce.number().int().min(1).max(365).default(30) }).strict(),
      },
    },
    async (request) => service.metrics(request.query.app, request.params.env, request.query.days),
  );

  r.post(
    '/ci/environments/:env/rollback',
    {
      onRequest: auth.requireRole('admin'),
      schema: { summary: 'Roll back to N-1 (restore the backup of the newest deployment)', tags: ['environments'], params: EnvParams, body: RollbackBody, response: { 202: z.object({ run_id: z.string(), status: z.literal('queued'), rollback_to: z.string(), restores: z.string().nullable() }), 409: ErrorBody, 422: ErrorBody } },
    },
    async (request, reply) => {
      const who = auth.principal(request)!;
      const out = await service.rollback(request.body.app, request.params.env, request.body.confirm, request.body.reason, who.name);
      await auth.audit(request, 'run.rollback', out.run_id, { env: request.params.env, rollback_to: out.rollback_to, reason: request.body.reason });
      return reply.status(202).send(out);
    },
  );
}
