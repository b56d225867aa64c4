/**
 * A small fetch wrapper for the CI API. Every failure becomes an ApiError
 * carrying the backend's `{error:{code,message,details}}` (or, when the
 * backend cannot be reached, status 0 and code "network"), so banners can
 * say what happened and what to do.
 */
import type {
  CreateRunRequest,
  CreateRunResponse,
  Environment,
  EnvironmentMetrics,
  HistoryFilters,
  Me,
  Run,
  RunsPage,
  SandboxFaults,
  SandboxInfo,
} from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The readable CSRF cookie the backend sets next to its HttpOnly session cookie. */
export function readCsrfCookie(cookie: string = typeof document === 'undefined' ? '' : document.cookie): string | null {
  for (const part of cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'qa_csrf') return decodeURIComponent(v.join('='));
  }
  return null;
}

export interface ApiClientOptions {
  /** Prefix before /ci/…; '' when the page is served by the backend (the default). */
  baseUrl?: string;
  fetch?: typeof fetch;
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: ApiClientOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? '').replace(/\/$/, '');
    this.fetchImpl = opts.fetch ?? ((...args) => globalThis.fetch(...args));
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** ws(s):// URL for the JSON log stream of a run, resuming after `fromSeq`. */
  logsUrl(runId: string, fromSeq: number): string {
    const path = `/ci/runs/${encodeURIComponent(runId)}/logs?format=json&from=${fromSeq}`;
    const base = this.baseUrl || (typeof location === 'undefined' ? 'http://127.0.0.1' : location.origin);
    const abs = new URL(this.url(path), base.startsWith('http') ? base : location.origin);
    abs.protocol = abs.protocol === 'https:' ? 'wss:' : 'ws:';
    return abs.toString();
  }

  async request<T>(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<T> {
    const headers: Record<string, string> = { accept };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD') {
      const csrf = readCsrfCookie();
      if (csrf) headers['x-csrf-token'] = csrf;
    }
    let res: Response;
    try {
      res = await this.fetchImpl(this.url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch (err) {
      throw new ApiError(0, 'network', `The CI backend could not be reached (${(err as Error).message}).`);
    }
    if (!res.ok) {
      let code = `http_${res.status}`;
      let message = `${method} ${path} answered ${res.status} ${res.statusText}`.trim();
      let details: unknown;
      try {
        const parsed = (await res.json()) as { error?: { code?: string; message?: string; details?: unknown } };
        if (parsed?.error) {
          code = parsed.error.code ?? code;
          message = parsed.error.message ?? message;
          details = parsed.error.details;
        }
      } catch {
        // Not JSON (a proxy's error page, say): keep the status line as the message.
      }
      throw new ApiError(res.status, code, message, details);
    }
    if (accept !== 'application/json') return (await res.text()) as T;
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  me = () => this.request<Me>('GET', '/ci/me');
  login = (token: string) => this.request<unknown>('POST', '/ci/auth/login', { token });
  logout = () => this.request<unknown>('POST', '/ci/auth/logout');

  createRun = (body: CreateRunRequest) => this.request<CreateRunResponse>('POST', '/ci/runs', body);
  getRun = (id: string) => this.request<Run>('GET', `/ci/runs/${encodeURIComponent(id)}`);
  cancelRun = (id: string) => this.request<unknown>('POST', `/ci/runs/${encodeURIComponent(id)}/cancel`);
  summaryMd = (id: string) => this.request<string>('GET', `/ci/runs/${encodeURIComponent(id)}/summary.md`, undefined, 'text/markdown, text/plain');
  listRuns = (filters: HistoryFilters, cursor: string | null, limit = 20) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, k === 'to' ? endOfDay(v) : k === 'from' ? startOfDay(v) : v);
    q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    return this.request<RunsPage>('GET', `/ci/runs?${q}`);
  };

  environments = () => this.request<{ environments: Environment[] }>('GET', '/ci/environments');
  rollback = (env: string, body: { confirm: string; reason: string; app: string }) =>
    this.request<CreateRunResponse>('POST', `/ci/environments/${encodeURIComponent(env)}/rollback`, body);
  envMetrics = (env: string, app: string, days = 30) =>
    this.request<EnvironmentMetrics>('GET', `/ci/environments/${encodeURIComponent(env)}/metrics?app=${encodeURIComponent(app)}&days=${days}`);

  sandbox = () => this.request<SandboxInfo>('GET', '/ci/sandbox');
  setFaults = (faults: Partial<SandboxFaults>) => this.request<SandboxInfo>('PUT', '/ci/sandbox/faults', faults);
}

/** The history filter holds dates; the API takes instants. Local midnight to local end of day. */
function startOfDay(d: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(d) ? new Date(`${d}T00:00:00`).toISOString() : d;
}
function endOfDay(d: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(d) ? new Date(`${d}T23:59:59.999`).toISOString() : d;
}
