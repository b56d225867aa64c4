/**
 * The sandbox (DESIGN §1): a Jenkins-compatible server (./jenkins/server.ts)
 * running the emulated WeSign-CI job (./job/pipeline.ts) against a simulated
 * DevTest (./devtest.ts). It is not a CI provider: the backend's Jenkins client
 * talks to it over HTTP exactly as to a real Jenkins. See docs/sandbox.md.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadContract, REPO_ROOT } from './contract.js';
import { SimulatedDevTest } from './devtest.js';
import { FaultState, FaultValidationError, validateFaults, type SandboxFaults } from './faults.js';
import { JenkinsServer } from './jenkins/server.js';
import { contractParamDefs } from './jenkins/params.js';
import { createPipelineRunner, SPEC_ENV, type PipelineEnv } from './job/pipeline.js';
import { SandboxStore } from './store.js';

export type { SandboxFaults } from './faults.js';
export { validateFaults, FaultValidationError } from './faults.js';
export type { PipelineEnv } from './job/pipeline.js';

export interface SandboxOptions {
  host?: string;
  /** Jenkins port; 0 (default) picks a free one. */
  port?: number;
  /** Simulated DevTest port; 0 (default) picks a free one. */
  devtestPort?: number;
  /** 1 = a full run takes about a minute; 0.02 in tests. Default 1. */
  timeScale?: number;
  /** Jenkins' quiet period before a queued build starts (Jenkins default 5 s). Default 0. */
  quietPeriodMs?: number;
  user?: string;
  /** API token; default a random `sandbox-…` value. */
  token?: string;
  /** Jobs that run the emulated pipeline; default ["WeSign-CI"]. */
  jobs?: string[];
  /** Persist jobs, builds, artifacts and DevTest state here; default: a temporary directory removed on close. */
  dataDir?: string;
  /** Inject Jenkins console notes (ESC[8mha:…ESC[0m) into progressiveText, as Jenkins ≥ 2.509 does. Default false. */
  consoleNotes?: boolean;
  /** emulate a fresh declarative job with no parameters until its first build */
  registerParametersOnFirstRun?: boolean;
  /** Password for the same user: authenticates, but POSTs then need crumb + session cookie. Default random. */
  password?: string;
  /** How long a left queue item stays visible (Jenkins: 5 min). */
  leftItemTtlMs?: number;
  /** The LeftItem executable:null window before the build exists. Default 50 ms. */
  executableNullWindowMs?: number;
  /** SPEC variables of the emulated Jenkinsfile (SMOKE_URLS, IIS_APP_POOLS, …); default SPEC.md's values. */
  pipelineEnv?: Partial<PipelineEnv>;
}

export interface Sandbox {
  jenkinsUrl: string;
  devtestUrl: string;
  user: string;
  token: string;
  /** The password login (not crumb-exempt); for crumb tests. */
  password: string;
  getFaults(): SandboxFaults;
  setFaults(p: Partial<SandboxFaults>): SandboxFaults;
  devtestRequestCount(): number;
  /** Commit SHA of the version the simulated DevTest runs; null when nothing is deployed. */
  deployedVersion(): string | null;
  close(): Promise<void>;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const contract = loadContract();
  const host = opts.host ?? '127.0.0.1';
  const faults = new FaultState();
  const store = new SandboxStore(opts.dataDir);
  const user = opts.user ?? 'qa-bot';
  // With a dataDir the generated credentials survive a restart, so a backend configured with them keeps working.
  const saved = store.load<{ token: string; password: string }>('credentials.json');
  const token = opts.token ?? saved?.token ?? `sandbox-${randomBytes(16).toString('hex')}`;
  const password = opts.password ?? saved?.password ?? `sandbox-pass-${randomBytes(8).toString('hex')}`;
  if (!opts.token || !opts.password) store.save('credentials.json', { token, password });

  const devtest = new SimulatedDevTest({ host, port: opts.devtestPort ?? 0, endpoints: contract.simulatedDevTest.endpoints, faults, store });
  await devtest.start();

  const pipelineParams = contractParamDefs(contract.parameters);
  const runBuild = createPipelineRunner({
    contract,
    devtest,
    faults,
    timeScale: opts.timeScale ?? 1,
    env: { ...SPEC_ENV, ...opts.pipelineEnv },
    repoRoot: REPO_ROOT,
  });

  const controlRoutes = async (req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<boolean> => {
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === '/sandbox/faults') {
      if (req.method === 'GET') return send(200, faults.get()), true;
      if (req.method === 'PUT' || req.method === 'POST') {
        let input: unknown;
        try {
          input = JSON.parse(body.toString('utf8') || 'null');
        } catch {
          send(400, { error: { code: 'bad_json', message: 'the body must be JSON, e.g. {"smoke_fail": true}' } });
          return true;
        }
        try {
          send(200, faults.set(validateFaults(input)));
        } catch (err) {
          if (!(err instanceof FaultValidationError)) throw err;
          send(400, { error: { code: 'invalid_faults', message: err.message } });
        }
        return true;
      }
      res.writeHead(405, { Allow: 'GET, PUT' });
      res.end();
      return true;
    }
    if (url.pathname === '/sandbox/state' && req.method === 'GET') {
      send(200, {
        sandbox: true,
        jenkinsUrl: jenkins.baseUrl,
        devtestUrl: devtest.url,
        faults: faults.get(),
        devtest: { deployed: devtest.deployed, backups: devtest.backups, requests: devtest.requestCount },
      });
      return true;
    }
    return false;
  };

  const jenkins = new JenkinsServer({
    host,
    port: opts.port ?? 0,
    user,
    token,
    password,
    quietPeriodMs: opts.quietPeriodMs ?? 0,
    consoleNotes: opts.consoleNotes ?? false,
    leftItemTtlMs: opts.leftItemTtlMs ?? 5 * 60_000,
    executableNullWindowMs: opts.executableNullWindowMs ?? 50,
    faults,
    store,
    pipelineParams,
    runBuild,
    controlRoutes,
  });
  jenkins.restore();
  for (const name of opts.jobs ?? ['WeSign-CI']) jenkins.addJob(name, opts.registerParametersOnFirstRun ? null : pipelineParams);
  try {
    await jenkins.start();
  } catch (err) {
    await devtest.close();
    store.close();
    throw err;
  }

  let closed = false;
  return {
    jenkinsUrl: jenkins.baseUrl,
    devtestUrl: devtest.url,
    user,
    token,
    password,
    getFaults: () => faults.get(),
    setFaults: (p) => faults.set(validateFaults(p)),
    devtestRequestCount: () => devtest.requestCount,
    deployedVersion: () => devtest.deployed?.commit ?? null,
    close: async () => {
      if (closed) return;
      closed = true;
      await jenkins.close();
      await devtest.close();
      store.close();
    },
  };
}
