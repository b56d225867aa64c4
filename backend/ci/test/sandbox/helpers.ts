/** Raw-HTTP helpers for the sandbox tests: no Jenkins client, just fetch over loopback. */
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';

export const JOB = 'WeSign-CI';

export async function sandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  return startSandbox({ timeScale: 0.02, quietPeriodMs: 0, ...opts });
}

export function basic(user: string, secret: string): string {
  return `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
}

/** fetch with the sandbox's token; `path` is relative to the Jenkins URL unless absolute. */
export function jf(sb: Sandbox, path: string, init: RequestInit = {}): Promise<Response> {
  const url = path.startsWith('http') ? path : `${sb.jenkinsUrl}${path}`;
  return fetch(url, { redirect: 'manual', ...init, headers: { authorization: basic(sb.user, sb.token), ...(init.headers as Record<string, string> | undefined) } });
}

export async function getJson<T = any>(sb: Sandbox, path: string): Promise<T> {
  const r = await jf(sb, path);
  if (r.status !== 200) throw new Error(`GET ${path} → ${r.status}: ${(await r.text()).slice(0, 200)}`);
  return (await r.json()) as T;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 45_000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** POST buildWithParameters; returns the queue item path (/queue/item/N/). */
export async function trigger(sb: Sandbox, params: Record<string, string> = {}, job = JOB): Promise<string> {
  const r = await jf(sb, `/job/${encodeURIComponent(job)}/buildWithParameters`, { method: 'POST', body: new URLSearchParams(params) });
  if (r.status !== 201) throw new Error(`trigger → ${r.status}: ${(await r.text()).slice(0, 300)}`);
  return new URL(r.headers.get('location')!).pathname;
}

export async function buildNumberOf(sb: Sandbox, queuePath: string): Promise<number> {
  return waitFor('the queue item to get an executable', async () => {
    const q = await getJson(sb, `${queuePath}api/json`);
    return q.executable?.number as number | undefined;
  });
}

export async function waitDone(sb: Sandbox, n: number, job = JOB): Promise<any> {
  return waitFor(`build #${n} to finish`, async () => {
    const b = await getJson(sb, `/job/${encodeURIComponent(job)}/${n}/api/json`);
    return b.building ? null : b;
  });
}

/** Triggers a build and waits until it has finished; returns {n, build JSON}. */
export async function runBuild(sb: Sandbox, params: Record<string, string> = {}, job = JOB): Promise<{ n: number; build: any }> {
  const q = await trigger(sb, params, job);
  const n = await buildNumberOf(sb, q);
  return { n, build: await waitDone(sb, n, job) };
}

export async function consoleText(sb: Sandbox, n: number, job = JOB): Promise<string> {
  return (await jf(sb, `/job/${encodeURIComponent(job)}/${n}/consoleText`)).text();
}

export async function artifact(sb: Sandbox, n: number, rel: string, job = JOB): Promise<Buffer> {
  const r = await jf(sb, `/job/${encodeURIComponent(job)}/${n}/artifact/${rel}`);
  if (r.status !== 200) throw new Error(`artifact ${rel} → ${r.status}`);
  return Buffer.from(await r.arrayBuffer());
}

export async function artifactJson(sb: Sandbox, n: number, rel: string, job = JOB): Promise<any> {
  return JSON.parse((await artifact(sb, n, rel, job)).toString('utf8'));
}

export function paramsOf(build: any): Record<string, unknown> {
  const pa = (build.actions as any[]).find((a) => a && Array.isArray(a.parameters));
  return Object.fromEntries((pa?.parameters ?? []).map((p: any) => [p.name, p.value]));
}
