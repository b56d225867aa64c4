/** Sandbox only (DESIGN §5): where it runs and which faults are induced. 404 with a real Jenkins. */
import type { FastifyInstance } from 'fastify';
import type { Sandbox } from '../../sandbox/index.js';
// From faults.js, not the sandbox's index: this route module loads with a real Jenkins too, and
// the index would pull in the whole emulator.
import { validateFaults } from '../../sandbox/faults.js';
import { AppError } from '../../ci/errors.js';
import type { AuthSeam } from '../auth_seam.js';

export async function sandboxRoutes(app: FastifyInstance, deps: { sandbox: Sandbox | null; auth: AuthSeam }) {
  const off = () => new AppError(404, 'not_found', 'The sandbox is not in use (JENKINS_URL is set); these endpoints exist only with the sandbox.');
  app.get('/ci/sandbox', { onRequest: deps.auth.requireRole('viewer'), schema: { tags: ['sandbox'], summary: 'Sandbox Jenkins and DevTest URLs and the faults in force' } }, async () => {
    const sb = deps.sandbox;
    if (!sb) throw off();
    return { sandbox: true, jenkins_url: sb.jenkinsUrl, devtest_url: sb.devtestUrl, deployed_version: sb.deployedVersion(), faults: sb.getFaults() };
  });
  app.put('/ci/sandbox/faults', { onRequest: deps.auth.requireRole('deployer'), schema: { tags: ['sandbox'], summary: 'Induce faults in the sandbox' } }, async (request) => {
    const sb = deps.sandbox;
    if (!sb) throw off();
    let patch;
    try {
      patch = validateFaults(request.body);
    } catch (err) {
      throw new AppError(422, 'invalid_input', (err as Error).message);
    }
    return { faults: sb.setFaults(patch) };
  });
}
