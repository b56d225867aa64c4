/**
 * The one place that talks HTTP to Jenkins: Basic auth with an API token, timeouts, redirects,
 * the CSRF crumb, and turning every failure into a ProviderError with a message that says what to
 * do. Section numbers (§) refer to /work/shared/reference/jenkins-rest-api.md.
 *
 * Secrets: the token only ever lives in `authorization`. Every message built from anything
 * (including text Jenkins sent back) passes `scrub()`, and URLs never carry credentials.
 */
import { ProviderError } from '../../errors.js';

export type FetchLike = typeof fetch;
export type RequestListener = (method: string, path: string, status: number | null) => void;

export interface JenkinsHttpOptions {
  baseUrl: string;
  user: string;
  apiToken: string;
  timeoutMs?: number;
  fetchImpl?: FetchLike;
  onRequest?: RequestListener;
}

export interface SendOptions {
  body?: URLSearchParams;
  signal?: AbortSignal;
  accept?: string;
  /** GET only: follow redirects ourselves (auth is kept only on our own origin, §7 "Redirects"). */
  followRedirects?: boolean;
}

/** A reply whose body has not been read yet. Read it once, through one of the methods. */
export interface JenkinsReply {
  readonly method: string;
  /** Path (and query) we asked for, relative to the base URL; safe to show. */
  readonly path: string;
  readonly status: number;
  readonly headers: Headers;
  /** Path after our own redirect-following, when it differs from `path`. */
  readonly redirectedTo: string | null;
  text(): Promise<string>;
  bytes(): Promise<Uint8Array>;
  json(): Promise<unknown>;
  /** The body as a stream whose errors are ProviderErrors; the idle timeout keeps running. */
  stream(): ReadableStream<Uint8Array>;
  /** Frees the connection without reading the body. */
  discard(): Promise<void>;
}

interface Crumb {
  field: string;
  value: string;
  /** `name=value` pairs of the session cookie(s) the crumb belongs to (§1.2, SECURITY-626). */
  cookie: string | null;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;
/** Error bodies are HTML pages; a little of one is enough to quote what Jenkins said. */
const MAX_ERROR_BODY = 64 * 1024;

export class JenkinsHttp {
  readonly baseUrl: string;
  /** Context path of the base URL, e.g. "/jenkins", or "" at the root. */
  readonly contextPath: string;
  private readonly origin: string;
  private readonly authorization: string;
  private readonly secrets: string[];
  private readonly timeoutMs: number;
  private readonly fetchImpl: FetchLike;
  private readonly onRequest: RequestListener | undefined;
  private crumb: Crumb | null = null;

  constructor(opts: JenkinsHttpOptions) {
    const { url, contextPath } = parseBaseUrl(opts.baseUrl);
    if (typeof opts.user !== 'string' || opts.user === '' || opts.user.includes(':')) {
      throw new ProviderError('invalid_config', 'JENKINS_USER must be the Jenkins user name the API token belongs to (non-empty, without ":").', false);
    }
    if (typeof opts.apiToken !== 'string' || opts.apiToken === '') {
      throw new ProviderError('invalid_config', 'JENKINS_API_TOKEN is empty; create an API token for JENKINS_USER (Jenkins → user → Security → API Token) and set it.', false);
    }
    this.baseUrl = url;
    this.contextPath = contextPath;
    this.origin = new URL(url).origin;
    // §1.1: Basic base64(user:apiToken). Token-authenticated POSTs need no crumb on Jenkins ≥ 2.96.
    const basic = Buffer.from(`${opts.user}:${opts.apiToken}`, 'utf8').toString('base64');
    this.authorization = `Basic ${basic}`;
    this.secrets = [opts.apiToken, basic, `${opts.user}:${opts.apiToken}`].filter((s) => s.length >= 4);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ProviderError('invalid_config', `The Jenkins request timeout must be a positive number of milliseconds, got ${String(opts.timeoutMs)}.`, false);
    }
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.onRequest = opts.onRequest;
  }

  /** Removes anything secret from a text that may end up in a message or a log. */
  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('****');
    return out;
  }

  error(code: string, message: string, retryable: boolean, httpStatus: number | null = null, cause?: unknown): ProviderError {
    return new ProviderError(code, this.scrub(message), retryable, httpStatus, cause === undefined ? undefined : { cause });
  }

  /**
   * Sends one request. Resolves with the reply whatever its status (callers decide what a status
   * means for their endpoint); rejects only when no reply came (network, timeout, abort).
   * POSTs that Jenkins refuses for a missing crumb are retried once with one (§1.2).
   */
  async send(method: 'GET' | 'POST', path: string, opts: SendOptions = {}): Promise<JenkinsReply> {
    if (method === 'GET') return this.sendGet(path, opts);
    // A crumb is used only after Jenkins asked for one: API tokens are exempt (§1.2, ApiCrumbExclusion).
    // Once Jenkins has asked for one, the cached crumb and its session cookie go on every POST;
    // a refusal with a cached crumb means its session expired, so the same path fetches a new one.
    const reply = await this.exchange('POST', path, this.baseUrl + path, opts, true, this.crumb);
    if (!(await this.isCrumbRefusal(reply))) return reply;
    this.crumb = await this.fetchCrumb(opts.signal);
    if (this.crumb === null) return reply; // CSRF protection is off (404), so the 403 meant something else
    return this.exchange('POST', path, this.baseUrl + path, opts, true, this.crumb);
  }

  private async sendGet(path: string, opts: SendOptions): Promise<JenkinsReply> {
    let url = this.baseUrl + path;
    let sameOrigin = true;
    for (let hop = 0; ; hop++) {
      const reply = await this.exchange('GET', path, url, opts, sameOrigin, null, hop > 0 ? url : null);
      const location = reply.headers.get('location');
      if (!opts.followRedirects || ![301, 302, 303, 307, 308].includes(reply.status) || !location) return reply;
      await reply.discard();
      if (hop >= MAX_REDIRECTS) {
        throw this.error('too_many_redirects', `GET ${path}: Jenkins redirected more than ${MAX_REDIRECTS} times; check JENKINS_URL (http vs https, context path).`, false, reply.status);
      }
      const next = new URL(location, url);
      // Do not forward Authorization to another host (resource root URL, S3, …; §7).
      sameOrigin = next.origin === this.origin;
      url = next.toString();
    }
  }

  private async exchange(
    method: 'GET' | 'POST',
    path: string,
    url: string,
    opts: SendOptions,
    withAuth: boolean,
    crumb: Crumb | null,
    redirectedUrl: string | null = null,
  ): Promise<JenkinsReply> {
    const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
    if (withAuth) headers.authorization = this.authorization;
    if (crumb) {
      headers[crumb.field] = crumb.value;
      if (crumb.cookie) headers.cookie = crumb.cookie;
    }
    if (opts.body) headers['content-type'] = 'application/x-www-form-urlencoded';

    const timer = new RequestLifetime(this.timeoutMs, opts.signal);
    const failure = (err: unknown, phase: string): ProviderError => {
      timer.clear();
      if (opts.signal?.aborted) return this.error('aborted', `${method} ${path} was cancelled.`, false, null, opts.signal.reason);
      if (timer.fired) {
        return this.error('timeout', `${method} ${path}: Jenkins did not answer within ${this.timeoutMs} ms (${phase}); it may be overloaded or unreachable.`, true, null, err);
      }
      return this.error('network_error', `${method} ${path}: ${phase} failed (${describeNetworkError(err)}); check that JENKINS_URL is reachable from the backend.`, true, null, err);
    };

    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers,
        body: opts.body ? opts.body.toString() : undefined,
        redirect: 'manual',
        signal: timer.signal,
      });
    } catch (err) {
      this.report(method, path, null);
      throw failure(err, 'the request');
    }
    this.report(method, path, res.status);
    timer.restart(); // the body gets its own timeout (an idle timeout while streaming)

    const redirectedTo = redirectedUrl ? pathRelativeTo(redirectedUrl, this.baseUrl) : null;
    let consumed = false;
    const take = () => {
      if (consumed) throw new Error(`the body of ${method} ${path} was already read`);
      consumed = true;
    };
    const readBytes = async (limit: number | null): Promise<Uint8Array> => {
      take();
      try {
        if (limit === null) return new Uint8Array(await res.arrayBuffer());
        return await readAtMost(res, limit);
      } catch (err) {
        throw failure(err, 'reading the reply');
      } finally {
        timer.clear();
      }
    };
    const http = this;
    let textCache: Promise<string> | null = null;
    return {
      method,
      path,
      status: res.status,
      headers: res.headers,
      redirectedTo,
      bytes: () => readBytes(null),
      // Cached, so that an error reply can be inspected (crumb?) and then quoted.
      text: () => (textCache ??= readBytes(res.ok ? null : MAX_ERROR_BODY).then((b) => new TextDecoder().decode(b))),
      async json() {
        const bytes = await readBytes(null);
        const text = new TextDecoder().decode(bytes);
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          const type = res.headers.get('content-type') ?? 'no content type';
          throw http.error(
            'unexpected_response',
            `${method} ${path}: expected JSON from Jenkins but got ${type} (${bytes.length} bytes); check that JENKINS_URL points at Jenkins itself and not at a login page or proxy.`,
            false,
            res.status,
            err,
          );
        }
      },
      stream() {
        take();
        if (!res.body) {
          timer.clear();
          return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
        }
        const reader = res.body.getReader();
        return new ReadableStream<Uint8Array>({
          async pull(controller) {
            try {
              const { done, value } = await reader.read();
              if (done) {
                timer.clear();
                controller.close();
              } else {
                timer.restart(); // an idle timeout: a big artifact may take longer than timeoutMs in total
                controller.enqueue(value);
              }
            } catch (err) {
              controller.error(failure(err, 'downloading the body'));
            }
          },
          async cancel(reason) {
            timer.clear();
            await reader.cancel(reason).catch(() => undefined);
          },
        });
      },
      async discard() {
        if (consumed) return;
        consumed = true;
        timer.clear();
        await res.body?.cancel().catch(() => undefined);
      },
    };
  }

  /** §1.2: a POST without a valid crumb gets 403 "No valid crumb was included in the request". */
  private async isCrumbRefusal(reply: JenkinsReply): Promise<boolean> {
    if (reply.status !== 403 || reply.headers.has('x-required-permission')) return false;
    const body = await reply.text();
    return /crumb/i.test(body) || /crumb/i.test(reply.headers.get('x-error') ?? '');
  }

  /** GET /crumbIssuer/api/json, keeping its session cookie; null when CSRF protection is off (404). */
  private async fetchCrumb(signal?: AbortSignal): Promise<Crumb | null> {
    const path = '/crumbIssuer/api/json';
    const reply = await this.sendGet(path, { signal });
    if (reply.status === 404) {
      await reply.discard();
      return null;
    }
    if (reply.status !== 200) throw await this.statusError(reply, 'fetching a CSRF crumb');
    const cookies = reply.headers.getSetCookie().map((c) => c.split(';')[0]!.trim()).filter(Boolean);
    const body = (await reply.json()) as { crumb?: unknown; crumbRequestField?: unknown };
    if (typeof body.crumb !== 'string' || typeof body.crumbRequestField !== 'string') {
      throw this.error('unexpected_response', `GET ${path}: the reply has no crumb/crumbRequestField.`, false, 200);
    }
    return { field: body.crumbRequestField, value: body.crumb, cookie: cookies.length ? cookies.join('; ') : null };
  }

  /**
   * The error for a reply an endpoint did not expect. `notFound` supplies the endpoint-specific
   * 404 (job, build, queue item, artifact). Messages name the method and path, never the token.
   */
  async statusError(reply: JenkinsReply, doing: string, notFound?: () => ProviderError): Promise<ProviderError> {
    const { method, path, status, headers } = reply;
    const what = `${method} ${path} (${doing})`;
    if (status === 404 && notFound) {
      await reply.discard();
      return notFound();
    }
    if (status === 401) {
      await reply.discard();
      // §1.1: bad Basic credentials → 401 with WWW-Authenticate: Basic realm="Jenkins".
      return this.error('auth_failed', `Jenkins rejected the credentials (401) for ${what}: check JENKINS_USER and JENKINS_API_TOKEN.`, false, 401);
    }
    const said = await this.whatJenkinsSaid(reply);
    if (status === 403) {
      // §1.1: a missing permission is named by X-Required-Permission (AccessDeniedException3).
      const permission = headers.get('x-required-permission');
      const as = headers.get('x-you-are-authenticated-as');
      if (permission) {
        return this.error(
          'forbidden',
          `Jenkins refused ${what} (403): the user ${as ?? 'JENKINS_USER'} lacks the permission ${permission}; grant it in Jenkins (Manage Jenkins → Security) or use another user.`,
          false,
          403,
        );
      }
      if (/crumb/i.test(said)) {
        return this.error(
          'csrf_rejected',
          `Jenkins refused ${what} (403) for a missing CSRF crumb (${said}); /crumbIssuer/api/json gave no crumb (404) or its crumb was refused too. Use an API token (not a password) for JENKINS_API_TOKEN; token-authenticated POSTs need no crumb on Jenkins 2.96 and later.`,
          false,
          403,
        );
      }
      return this.error(
        'forbidden',
        `Jenkins refused ${what} (403)${said ? `: ${said}` : ''}; the user may lack Overall/Read or Job/Read, or a reverse proxy blocked the request.`,
        false,
        403,
      );
    }
    if (status === 404) return this.error('not_found', `Jenkins has nothing at ${what} (404).`, false, 404);
    if (status === 429) return this.error('rate_limited', `Jenkins (or a proxy in front of it) throttled ${what} (429).`, true, 429);
    if (status >= 500) {
      return this.error('server_error', `Jenkins answered ${status} to ${what}${said ? `: ${said}` : ''}.`, true, status);
    }
    return this.error('http_error', `Jenkins answered ${status} to ${what}${said ? `: ${said}` : ''}.`, false, status);
  }

  /** A short text of an error reply: X-Error when set (§1.3), else the page text without tags. */
  async whatJenkinsSaid(reply: JenkinsReply): Promise<string> {
    const header = reply.headers.get('x-error');
    let body = '';
    try {
      body = await reply.text();
    } catch {
      /* the connection broke while reading an error page: the status alone must do */
    }
    if (header) return this.scrub(header.trim()).slice(0, 300);
    return this.scrub(summarizeErrorPage(body));
  }

  private report(method: string, path: string, status: number | null): void {
    try {
      this.onRequest?.(method, this.scrub(path), status);
    } catch {
      /* a listener that throws must never break a request */
    }
  }
}

/** Validates JENKINS_URL and returns it without a trailing slash, plus its context path. */
export function parseBaseUrl(raw: string): { url: string; contextPath: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ProviderError('invalid_config', 'JENKINS_URL is not a URL; set it to the Jenkins root, e.g. "https://jenkins.example.com/" or "http://host:8080/jenkins/".', false);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ProviderError('invalid_config', `JENKINS_URL must start with http:// or https://, got ${u.protocol}//.`, false);
  }
  if (u.username || u.password) {
    // Never echo the URL here: it holds the credentials.
    throw new ProviderError('invalid_config', 'JENKINS_URL must not contain credentials; put the user in JENKINS_USER and the token in JENKINS_API_TOKEN.', false);
  }
  if (u.search || u.hash) {
    throw new ProviderError('invalid_config', 'JENKINS_URL must be the Jenkins root without a query or fragment, e.g. "https://jenkins.example.com/".', false);
  }
  const contextPath = u.pathname.replace(/\/+$/, '');
  return { url: u.origin + contextPath, contextPath };
}

/** Jenkins error pages are HTML ("Oops!" pages, Jetty sendError pages); keep the gist. */
export function summarizeErrorPage(body: string): string {
  if (!body) return '';
  // An uncaught exception (500) names itself on the first line of the stack trace.
  const exception = /\b((?:[a-z]\w*\.)*[A-Z]\w*(?:Exception|Error)): ([^\n<]{1,300})/.exec(body);
  if (exception) return decodeEntities(`${exception[1]}: ${exception[2]}`).trim();
  const title = /<title>([^<]{1,300})<\/title>/i.exec(body);
  const text = decodeEntities(
    body
      .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' '),
  ).trim();
  const best = title?.[1]?.trim() || text;
  return best.length > 300 ? best.slice(0, 297) + '...' : best;
}

function decodeEntities(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function describeNetworkError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const x = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof x.code === 'string') parts.push(x.code);
    else if (typeof x.message === 'string' && x.message) parts.push(x.message);
    e = x.cause;
  }
  return parts.length ? [...new Set(parts)].join(': ') : 'no reply';
}

function pathRelativeTo(url: string, baseUrl: string): string {
  return url.startsWith(baseUrl) ? url.slice(baseUrl.length) || '/' : new URL(url).pathname;
}

async function readAtMost(res: Response, limit: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(parts).subarray(0, limit);
}

/**
 * One request's abort signal: fires on our timeout or when the caller's signal aborts. The timer
 * restarts after the headers (so the body gets its own budget) and on every streamed chunk (an
 * idle timeout). The link to the caller's signal is removed when the request ends, so a long-lived
 * run signal does not collect one listener per poll.
 */
class RequestLifetime {
  private readonly controller = new AbortController();
  private handle: NodeJS.Timeout | null = null;
  private readonly onOuterAbort: () => void;
  fired = false;

  constructor(
    private readonly ms: number,
    private readonly outer: AbortSignal | undefined,
  ) {
    this.onOuterAbort = () => this.controller.abort(outer?.reason);
    if (outer?.aborted) this.controller.abort(outer.reason);
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
    this.restart();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  restart(): void {
    if (this.fired || this.controller.signal.aborted) return;
    if (this.handle) clearTimeout(this.handle);
    this.handle = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new Error(`timed out after ${this.ms} ms`));
    }, this.ms);
    this.handle.unref?.();
  }

  clear(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }
}
