/**
 * The backend in this process (buildApp on a temp SQLite file) talking to an in-process sandbox
 * Jenkins through the faulty proxy. JENKINS_URL is set (the proxy), so AUTH_MODE=token with an
 * admin token made through the tokens module, as the CLI does.
 */
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import { createToken } from '../../../src/auth/tokens.js';
import { startService, type TestService } from '../../helpers/service.js';
import { startFaultyProxy, type FaultyProxy } from './faulty_proxy.js';
import type { JenkinsAccess } from './verify.js';

export interface FaultStack {
  sandbox: Sandbox;
  proxy: FaultyProxy;
  svc: TestService;
  jenkins: JenkinsAccess;
  headers: Record<string, string>;
  close(): Promise<void>;
}

/** Deterministic pseudo-random numbers in [0, 1), so a failing share of calls fails the same way each run. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export async function startFaultStack(env: Record<string, string> = {}, timeScale = 0.02): Promise<FaultStack> {
  const sandbox = await startSandbox({ host: '127.0.0.1', port: 0, timeScale });
  const proxy = await startFaultyProxy(sandbox.jenkinsUrl.endsWith('/') ? sandbox.jenkinsUrl : `${sandbox.jenkinsUrl}/`);
  const svc = await startService({
    JENKINS_URL: proxy.url,
    JENKINS_USER: sandbox.user,
    JENKINS_API_TOKEN: sandbox.token,
    AUTH_MODE: 'token',
    ...env,
  });
  const { token } = await createToken(svc.services.db.db, { name: 'fault-suite', role: 'admin' });
  const jenkinsUrl = sandbox.jenkinsUrl.endsWith('/') ? sandbox.jenkinsUrl : `${sandbox.jenkinsUrl}/`;
  return {
    sandbox,
    proxy,
    svc,
    jenkins: { url: jenkinsUrl, auth: 'Basic ' + Buffer.from(`${sandbox.user}:${sandbox.token}`).toString('base64') },
    headers: { authorization: `Bearer ${token}` },
    close: async () => {
      await svc.close();
      await proxy.close();
      await sandbox.close();
    },
  };
}
