/** JSON over HTTP to the backend, with an optional bearer token (AUTH_MODE=token). */
export type Headers = Record<string, string>;

export async function call<T = any>(base: string, method: string, p: string, body?: unknown, headers: Headers = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(base + p, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed as T };
}

const TERMINAL = new Set(['success', 'failed', 'rolled_back', 'cancelled', 'error']);

/** Polls GET /ci/runs/{id} until the run is terminal (or `until` holds); a backend that is down is waited for. */
export async function waitRun(base: string, runId: string, headers: Headers = {}, timeoutMs = 90_000, until: (r: any) => boolean = (r) => TERMINAL.has(r.status)): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const { status, body } = await call(base, 'GET', `/ci/runs/${runId}`, undefined, headers);
      last = body;
      if (status === 200 && until(body)) return body;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`run ${runId} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last).slice(0, 600)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
