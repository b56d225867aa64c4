// The Jenkins client against small real node:http servers that answer the way Jenkins does per
// /work/shared/reference/jenkins-rest-api.md, for behaviours the sandbox does not offer: a crumb
// demanded on POST, a connection closed mid-body, chunk boundaries inside UTF-8 sequences and
// console notes, foreign Location hosts, redirects to another host, Jenkins' error statuses.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../src/ci/errors.js';
import { cleanConsoleText } from '../src/ci/providers/jenkins/console.js';
import { withRetry } from '../src/ci/providers/jenkins/retry.js';
import { JenkinsClient } from '../src/ci/providers/jenkins_client.js';
import type { ConsoleSlice, JobParameters } from '../src/ci/providers/provider.js';

const USER = 'qa-bot';
const TOKEN = 'fake-token-example-0123456789abcdef';
const AUTH = 'Basic ' + Buffer.from(`${USER}:${TOKEN}`).toString('base64');

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
interface TestServer {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler: Handler): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      // Like Jenkins: a wrong Authorization header is a 401 with the Basic realm (§1.1).
      if (req.headers.authorization !== undefined && req.headers.authorization !== AUTH) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="Jenkins"', 'content-type': 'text/html' });
        res.end('<html><body>Invalid password/token for user: qa-bot</body></html>');
        return;
      }
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const s: TestServer = {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(s);
  return s;
}

function client(s: TestServer, extra: Partial<ConstructorParameters<typeof JenkinsClient>[0]> = {}) {
  return new JenkinsClient({ baseUrl: s.url, user: USER, apiToken: TOKEN, timeoutMs: 5_000, locateSettleMs: 0, ...extra });
}

const params: JobParameters = { BRANCH_OR_TAG: 'main', DRY_RUN: true, TEST_SUITE: 'none', ACTION: 'deploy', ROLLBACK_TO: '', QA_RUN_ID: 'run-1' };

function json(res: http.ServerResponse, value: unknown, status = 200) {
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'x-jenkins': '2.520' });
  res.end(JSON.stringify(value));
}

async function caught(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProviderError);
  const err = e as ProviderError;
  // No message, code or cause chain may carry the token or the Basic credential.
  expect(`${err.message} ${err.code} ${String((err as { cause?: unknown }).cause ?? '')}`).not.toContain(TOKEN);
  expect(err.message).not.toContain(AUTH.slice(6));
  return err;
}

describe('CSRF crumb (§1.2)', () => {
  it('sends no crumb when token-authenticated POSTs are exempt, as on Jenkins ≥ 2.96', async () => {
    const s = await serve((req, res) => {
      if (req.method === 'POST' && req.url === '/job/WeSign-CI/buildWithParameters') {
        res.writeHead(201, { location: 'http://127.0.0.1:1/queue/item/5/' });
        return res.end();
      }
      res.writeHead(404).end();
    });
    expect(await client(s).trigger('WeSign-CI', params)).toEqual({ id: 5 });
    expect(s.seen.map((r) => r.url)).toEqual(['/job/WeSign-CI/buildWithParameters']);
  });

  it('fetches a crumb only after a POST is refused for lack of one, keeps its session cookie, and reuses both', async () => {
    const crumb = 'a'.repeat(64);
    let issued = 0;
    const s = await serve((req, res) => {
      if (req.url === '/crumbIssuer/api/json') {
        issued++;
        res.setHeader('set-cookie', ['JSESSIONID.3f2a=node01abc; Path=/; HttpOnly']);
        return json(res, { _class: 'hudson.security.csrf.DefaultCrumbIssuer', crumb, crumbRequestField: 'Jenkins-Crumb' });
      }
      if (req.method === 'POST') {
        // A Jenkins where the token is not exempt: crumb and the crumb's session cookie are both needed.
        if (req.headers['jenkins-crumb'] !== crumb || req.headers.cookie !== 'JSESSIONID.3f2a=node01abc') {
          res.writeHead(403, { 'content-type': 'text/html' });
          return res.end('<html><head><title>Error 403 No valid crumb was included in the request</title></head><body></body></html>');
        }
        res.writeHead(201, { location: `/queue/item/${10 + issued}/` });
        return res.end();
      }
      res.writeHead(404).end();
    });
    const c = client(s);
    expect(await c.trigger('WeSign-CI', params)).toEqual({ id: 11 });
    expect(await c.trigger('WeSign-CI', { ...params, QA_RUN_ID: 'run-2' })).toEqual({ id: 11 });
    expect(issued).toBe(1);
    expect(s.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /job/WeSign-CI/buildWithParameters',
      'GET /crumbIssuer/api/json',
      'POST /job/WeSign-CI/buildWithParameters',
      'POST /job/WeSign-CI/buildWithParameters',
    ]);
  });

  it('fetches a fresh crumb when the cached one has expired with its session', async () => {
    let issued = 0;
    let valid: string | null = null; // the one crumb the server accepts now
    const s = await serve((req, res) => {
      if (req.url === '/crumbIssuer/api/json') {
        issued++;
        valid = `c${issued}`;
        res.setHeader('set-cookie', [`JSESSIONID.x=s${issued}; Path=/`]);
        return json(res, { crumb: valid, crumbRequestField: 'Jenkins-Crumb' });
      }
      if (req.method === 'POST' && (valid === null || req.headers['jenkins-crumb'] !== valid || req.headers.cookie !== `JSESSIONID.x=s${issued}`)) {
        res.writeHead(403);
        return res.end('No valid crumb was included in the request');
      }
      res.writeHead(302, { location: '.' }).end(); // §8: stop answers 302
    });
    const c = client(s);
    const build = { job: 'WeSign-CI', number: 1, url: '' };
    await c.stop(build);
    valid = null; // the server forgot the session
    await c.stop(build);
    expect(issued).toBe(2);
    const posts = s.seen.filter((r) => r.method === 'POST').map((r) => r.headers['jenkins-crumb'] ?? '-');
    expect(posts).toEqual(['-', 'c1', 'c1', 'c2']);
  });

  it('treats a 404 from crumbIssuer as "CSRF disabled" and reports the refusal plainly', async () => {
    const s = await serve((req, res) => {
      if (req.method === 'POST') {
        res.writeHead(403);
        return res.end('No valid crumb was included in the request');
      }
      res.writeHead(404).end();
    });
    const err = await caught(client(s).trigger('WeSign-CI', params));
    expect(err.code).toBe('csrf_rejected');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/API token/);
  });
});

describe('errors map to what to do', () => {
  it('401: auth_failed naming JENKINS_USER and JENKINS_API_TOKEN, without the token', async () => {
    const s = await serve((_req, res) => json(res, {}));
    const c = new JenkinsClient({ baseUrl: s.url, user: USER, apiToken: 'fake-wrong-token-example' });
    const err = await caught(c.ping());
    expect(err.code).toBe('auth_failed');
    expect(err.httpStatus).toBe(401);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/check JENKINS_USER and JENKINS_API_TOKEN/);
    expect(err.message).not.toContain('fake-wrong-token-example');
  });

  it('403 names the missing permission from X-Required-Permission', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(403, { 'x-you-are-authenticated-as': USER, 'x-required-permission': 'hudson.model.Item.Build', 'content-type': 'text/html' });
      res.end('<html><body>qa-bot is missing the Job/Build permission</body></html>');
    });
    const err = await caught(client(s).trigger('WeSign-CI', params));
    expect(err.code).toBe('forbidden');
    expect(err.message).toContain('hudson.model.Item.Build');
    expect(err.message).toContain(USER);
  });

  it('404 on trigger: job_not_found pointing at setup_job.py and JENKINS_JOB_NAME', async () => {
    const s = await serve((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<html>Not Found</html>'));
    const err = await caught(client(s).trigger('folder/WeSign-CI', params));
    expect(err.code).toBe('job_not_found');
    expect(err.message).toMatch(/create the job \(see jenkins\/setup_job\.py\) or fix JENKINS_JOB_NAME/);
    expect(s.seen[0]?.url).toBe('/job/folder/job/WeSign-CI/buildWithParameters');
  });

  it('400/405/409/500 on trigger are not retryable and quote Jenkins', async () => {
    const answers: Record<number, () => [number, Record<string, string>, string]> = {
      400: () => [400, { 'content-type': 'text/html' }, '<html><head><title>Error 400 WeSign-CI is not parameterized</title></head></html>'],
      405: () => [405, { allow: 'POST' }, '<html>retry with POST</html>'],
      409: () => [409, {}, '<html><head><title>Error 409 WeSign-CI is not buildable</title></head></html>'],
      500: () => [500, {}, '<html><body><h2>Oops!</h2><pre>java.lang.IllegalArgumentException: Illegal choice for parameter TEST_SUITE: all\n\tat x.y</pre></body></html>'],
    };
    let next = 400;
    const s = await serve((_req, res) => {
      const [status, headers, body] = answers[next]!();
      res.writeHead(status, headers).end(body);
    });
    const c = client(s);
    const expectations: [number, string, RegExp][] = [
      [400, 'job_not_parameterized', /not parameterized.*first run/],
      [405, 'method_not_allowed', /https/],
      [409, 'job_disabled', /not buildable.*Enable it/],
      [500, 'trigger_rejected', /Illegal choice for parameter TEST_SUITE: all/],
    ];
    for (const [status, code, message] of expectations) {
      next = status;
      const err = await caught(c.trigger('WeSign-CI', params));
      expect([err.code, err.retryable, err.httpStatus]).toEqual([code, false, status]);
      expect(err.message).toMatch(message);
    }
  });

  it('a bare 500 on trigger (no Jenkins exception named) is retryable, and ensureTriggered looks before it triggers again', async () => {
    let triggers = 0;
    const s = await serve((req, res) => {
      if (req.url?.startsWith('/queue/api/json')) {
        // The first, failed trigger did queue a build: it is waiting in the queue.
        return json(res, { items: triggers > 0 ? [{ id: 31, params: '\nQA_RUN_ID=run-1', task: { url: 'http://h/job/WeSign-CI/' }, actions: [{ parameters: [{ name: 'QA_RUN_ID', value: 'run-1' }] }] }] : [] });
      }
      if (req.url?.startsWith('/job/WeSign-CI/api/json')) return json(res, { builds: [] });
      triggers++;
      res.writeHead(500, { 'content-type': 'text/html' }).end('<html><head><title>Oops!</title></head><body>upstream failure</body></html>');
    });
    const c = client(s);
    const err = await caught(c.trigger('WeSign-CI', params));
    expect([err.code, err.retryable, err.httpStatus]).toEqual(['server_error', true, 500]);
    expect(err.message).toMatch(/locateByRunId/);
    expect(await c.ensureTriggered('WeSign-CI', params)).toEqual({ kind: 'queued', queue: { id: 31 } });
    expect(triggers).toBe(1);
  });

  it('5xx elsewhere and network failures are retryable; withRetry gets through them', async () => {
    let calls = 0;
    const s = await serve((req, res) => {
      calls++;
      if (calls <= 2) return res.writeHead(503).end('<html>Service Unavailable</html>');
      if (calls === 3) return req.socket.destroy(); // reset without a reply
      json(res, { number: 3, building: false, result: 'SUCCESS', timestamp: 1, duration: 2, actions: [] });
    });
    const c = client(s);
    const first = await caught(c.buildState({ job: 'WeSign-CI', number: 3, url: '' }));
    expect([first.code, first.retryable, first.httpStatus]).toEqual(['server_error', true, 503]);
    const codes: string[] = [];
    const state = await withRetry(() => c.buildState({ job: 'WeSign-CI', number: 3, url: '' }), {
      deadlineMs: 10_000,
      baseDelayMs: 1,
      onRetry: (i) => codes.push(i.error.code),
    });
    expect(state.result).toBe('SUCCESS');
    expect(codes).toEqual(['server_error', 'network_error']);
  });

  it('a connection refused is a retryable network_error', async () => {
    const s = await serve((_req, res) => res.end());
    const url = s.url;
    await s.close();
    const err = await caught(new JenkinsClient({ baseUrl: url, user: USER, apiToken: TOKEN }).ping());
    expect([err.code, err.retryable]).toEqual(['network_error', true]);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('a reply that does not come in time is a retryable timeout', async () => {
    const s = await serve(() => {
      /* never answers */
    });
    const err = await caught(client(s, { timeoutMs: 150 }).ping());
    expect([err.code, err.retryable]).toEqual(['timeout', true]);
  });

  it('an aborted call rejects with "aborted", not retryable', async () => {
    const s = await serve(() => {
      /* never answers */
    });
    const ac = new AbortController();
    const p = client(s).ping(ac.signal);
    setTimeout(() => ac.abort(), 20);
    const err = await caught(p);
    expect([err.code, err.retryable]).toEqual(['aborted', false]);
  });

  it('a login page instead of JSON is a clear non-retryable error', async () => {
    const s = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>'));
    const err = await caught(client(s).buildState({ job: 'WeSign-CI', number: 1, url: '' }));
    expect(err.code).toBe('unexpected_response');
    expect(err.message).toMatch(/text\/html.*JENKINS_URL/);
  });

  it('onRequest sees method, path and status, never the token', async () => {
    const s = await serve((_req, res) => json(res, { mode: 'NORMAL' }));
    const seen: string[] = [];
    await client(s, { onRequest: (m, p, st) => seen.push(`${m} ${p} ${st}`) }).ping();
    expect(seen).toEqual(['GET /api/json?tree=mode 200']);
  });
});

describe('a connection closed mid-body', () => {
  it('fails an artifact download stream with a retryable error', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': '100000' });
      res.write(Buffer.alloc(30_000, 7), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const stream = await client(s).downloadArtifact({ job: 'WeSign-CI', number: 1, url: '' }, 'artifact/WeSign.DevTest.zip');
    const err = await caught(
      (async () => {
        for await (const _ of stream as unknown as AsyncIterable<Uint8Array>) {
          /* drain */
        }
      })(),
    );
    expect(err.retryable).toBe(true);
    expect(err.code).toBe('network_error');
  });

  it('fails a JSON read with a retryable error', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
      res.write('{"number":1,"building":tr', () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const err = await caught(client(s).buildState({ job: 'WeSign-CI', number: 1, url: '' }));
    expect([err.code, err.retryable]).toEqual(['network_error', true]);
  });
});

describe('console following (§5.1) across awkward chunk boundaries', () => {
  const NOTE = (n: number) => `\x1b[8mha:////4B${'x'.repeat(n)}+/AAAA==\x1b[0m`;
  // Hebrew and emoji (2-, 3- and 4-byte sequences), console notes, Windows CRLF lines, ANSI colours.
  const RAW =
    `Started by user qa-bot\n${NOTE(20)}[Pipeline] Start of Pipeline\n` +
    `${NOTE(3)}[Pipeline] { (Checkout)\n[checkout] שלום עולם — ✓ 🚀\r\n` +
    `\x1b[32m[build] dotnet build\x1b[0m\r\nprogress 10%\rprogress 100%\r\n` +
    `${NOTE(40)}[Pipeline] }\n€uro ünïcödé ${NOTE(1)}inline note\nFinished: SUCCESS\n`;
  const EXPECTED = cleanConsoleText(RAW);

  /**
   * A running build that writes `steps` bytes between polls and answers each poll with every
   * byte written so far, cut wherever the write stopped (mid-sequence, mid-note, between CR and
   * LF), with LineEndNormalizingWriter's lone-LF → CRLF, which restarts with every request.
   */
  async function growingLog(raw: Buffer, steps: number[], pieceBytes = 0) {
    let written = 0;
    let poll = 0;
    return serve((req, res) => {
      const url = new URL(req.url ?? '', 'http://x');
      if (url.pathname !== '/job/WeSign-CI/7/logText/progressiveText') return res.writeHead(404).end();
      let start = Number(url.searchParams.get('start') ?? '0');
      const complete = written >= raw.length;
      written = Math.min(raw.length, written + steps[poll++ % steps.length]!);
      if (start > written) start = 0;
      const out: number[] = [];
      let prev = -1;
      for (const b of raw.subarray(start, written)) {
        if (b === 0x0a && prev !== 0x0d) out.push(0x0d);
        out.push(b);
        prev = b;
      }
      const headers: Record<string, string> = { 'content-type': 'text/plain;charset=UTF-8', 'x-text-size': String(written) };
      if (!complete) headers['x-more-data'] = 'true';
      const body = Buffer.from(out);
      if (!pieceBytes) return res.writeHead(200, headers).end(body);
      // In small writes with a pause between them, so the client sees many reads per reply.
      res.writeHead(200, headers);
      const send = (at: number) => {
        if (at >= body.length) return res.end();
        res.write(body.subarray(at, at + pieceBytes), () => setTimeout(() => send(at + pieceBytes), 1));
      };
      send(0);
    });
  }

  for (const steps of [[1], [2], [3], [5, 1], [7], [13, 2, 1], [64], [100000]]) {
    it(`loses and doubles nothing when the log grows by ${steps.join(',')} byte(s) per poll`, async () => {
      const raw = Buffer.from(RAW, 'utf8');
      const s = await growingLog(raw, steps);
      const c = client(s);
      const build = { job: 'WeSign-CI', number: 7, url: '' };
      let offset = 0;
      let text = '';
      for (let i = 0; i < 10_000; i++) {
        const chunk = await c.readConsole(build, offset);
        expect(chunk.text).not.toContain('\uFFFD');
        expect(chunk.text).not.toContain('\x1b[8m');
        expect(chunk.text).not.toContain('\r\n');
        expect(chunk.nextOffset).toBeGreaterThanOrEqual(offset);
        text += chunk.text;
        offset = chunk.nextOffset;
        if (!chunk.more) break;
      }
      expect(text).toBe(EXPECTED);
      expect(offset).toBe(raw.length);
    });
  }

  for (const [steps, piece, slice] of [[[100000], 9, 1], [[100000], 17, 16], [[40], 5, 8], [[7, 90], 11, 1]] as Array<[number[], number, number]>) {
    it(`reads a reply in slices (${piece}-byte writes, slices of ${slice}+ bytes, log +${steps.join(',')}/poll) and resumes after any slice with nothing lost or doubled`, async () => {
      const raw = Buffer.from(RAW, 'utf8');
      const s = await growingLog(raw, steps, piece);
      const c = client(s);
      const build = { job: 'WeSign-CI', number: 7, url: '' };
      let at = { offset: 0, skip: 0 };
      let text = '';
      let midReply = 0;
      // Take one slice per request, then drop the connection: what a restart after each stored slice does.
      for (let i = 0; i < 10_000; i++) {
        const gen = c.readConsoleSlices(build, at, undefined, slice);
        const { value } = await gen.next();
        await gen.return(undefined);
        expect(value!.text).not.toContain('\uFFFD');
        expect(value!.text).not.toContain('\x1b[8m');
        text += value!.text;
        if (!value!.last) {
          midReply++;
          expect(value!.next.offset).toBe(at.offset);
          expect(value!.next.skip).toBeGreaterThan(at.skip);
        } else {
          expect(value!.next.skip).toBe(0);
        }
        at = value!.next;
        if (value!.last && !value!.more) break;
      }
      expect(text).toBe(EXPECTED);
      expect(at).toEqual({ offset: raw.length, skip: 0 });
      expect(midReply).toBeGreaterThan(0);
    });
  }

  it('streams a big reply slice by slice: the concatenation equals the whole read', async () => {
    const raw = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `${i} ${'z'.repeat(i % 300)} ✓\n`).join(''), 'utf8');
    const s = await growingLog(raw, [raw.length], 64 * 1024);
    const build = { job: 'WeSign-CI', number: 7, url: '' };
    const slices: ConsoleSlice[] = [];
    for await (const sl of client(s).readConsoleSlices(build, { offset: 0, skip: 0 }, undefined, 256 * 1024)) slices.push(sl);
    expect(slices.length).toBeGreaterThan(4);
    expect(slices.every((sl) => sl.last === (sl === slices[slices.length - 1]))).toBe(true);
    // Every slice but the last ends at a line end; the text is the log with CRLF undone.
    expect(slices.slice(0, -1).every((sl) => sl.text.endsWith('\n'))).toBe(true);
    expect(slices.map((sl) => sl.text).join('')).toBe(raw.toString('utf8'));
    expect(slices[slices.length - 1]!.next).toEqual({ offset: raw.length, skip: 0 });
  });

  it('cuts a line with no end anywhere safe: a 3 MB line still arrives whole and in bounded slices', async () => {
    const raw = Buffer.from(`head\n${'€'.repeat(1_000_000)}${NOTE(10)}tail\n`, 'utf8');
    const s = await growingLog(raw, [raw.length], 100_000);
    const build = { job: 'WeSign-CI', number: 7, url: '' };
    const texts: string[] = [];
    for await (const sl of client(s).readConsoleSlices(build, { offset: 0, skip: 0 }, undefined, 256 * 1024)) {
      expect(sl.text).not.toContain('\uFFFD');
      texts.push(sl.text);
    }
    expect(texts.length).toBeGreaterThan(4);
    expect(Math.max(...texts.map((t) => Buffer.byteLength(t)))).toBeLessThan(600_000);
    expect(texts.join('')).toBe(cleanConsoleText(raw.toString('utf8')));
  });

  it('refuses to resume when the reply is now shorter than the bytes already stored from it', async () => {
    const s = await serve((_req, res) => res.writeHead(200, { 'x-text-size': '10' }).end('0123456789'));
    const gen = client(s).readConsoleSlices({ job: 'WeSign-CI', number: 7, url: '' }, { offset: 0, skip: 50 });
    const err = await caught(gen.next());
    expect([err.code, err.retryable]).toEqual(['console_changed', false]);
  });

  it('a reply cut mid-body fails retryably after the slices it delivered; resuming from the last one completes the log', async () => {
    const raw = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join(''), 'utf8');
    let cutOnce = true;
    const s = await serve((req, res) => {
      const start = Number(new URL(req.url ?? '', 'http://x').searchParams.get('start') ?? '0');
      res.writeHead(200, { 'content-type': 'text/plain', 'x-text-size': String(raw.length), 'content-length': String(raw.length - start) });
      if (!cutOnce) return res.end(raw.subarray(start));
      cutOnce = false;
      res.write(raw.subarray(start, start + 20_000), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const build = { job: 'WeSign-CI', number: 7, url: '' };
    let at = { offset: 0, skip: 0 };
    let text = '';
    const err = await caught(
      (async () => {
        for await (const sl of client(s).readConsoleSlices(build, at, undefined, 4096)) {
          text += sl.text;
          at = sl.next;
        }
      })(),
    );
    expect([err.code, err.retryable]).toEqual(['network_error', true]);
    expect(at.skip).toBeGreaterThan(0);
    for await (const sl of client(s).readConsoleSlices(build, at, undefined, 4096)) {
      text += sl.text;
      at = sl.next;
    }
    expect(text).toBe(raw.toString('utf8'));
    expect(at).toEqual({ offset: raw.length, skip: 0 });
  });

  it('refuses an offset beyond the end instead of taking the whole log again', async () => {
    const s = await serve((_req, res) => res.writeHead(200, { 'x-text-size': '10' }).end('0123456789'));
    const err = await caught(client(s).readConsole({ job: 'WeSign-CI', number: 7, url: '' }, 50));
    expect(err.code).toBe('console_offset_beyond_end');
  });
});

describe('queue and trigger details', () => {
  it('reads the queue id from a Location with the wrong host (gotcha 6) and sends parameters as a form', async () => {
    const s = await serve((_req, res) => res.writeHead(201, { location: 'http://jenkins-container:8080/queue/item/4242/' }).end());
    const q = await client(s, { triggerDelaySec: 0 }).trigger('WeSign-CI', params);
    expect(q).toEqual({ id: 4242 });
    const form = new URLSearchParams(s.seen[0]!.body);
    expect(Object.fromEntries(form)).toEqual({ BRANCH_OR_TAG: 'main', DRY_RUN: 'true', TEST_SUITE: 'none', ACTION: 'deploy', ROLLBACK_TO: '', QA_RUN_ID: 'run-1', delay: '0sec' });
    expect(s.seen[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(s.seen[0]!.headers.authorization).toBe(AUTH);
  });

  it('follows Waiting → Left with executable:null (gotcha 2) → Left with a build in a folder, and 404 after expiry', async () => {
    const states = [
      { _class: 'hudson.model.Queue$WaitingItem', id: 9, why: 'In the quiet period. Expires in 4.9 sec', timestamp: 1 },
      { _class: 'hudson.model.Queue$BlockedItem', id: 9, why: 'Build #3 is already in progress (ETA: 1 min)' },
      { _class: 'hudson.model.Queue$BuildableItem', id: 9, why: 'Waiting for next available executor' },
      { _class: 'hudson.model.Queue$LeftItem', id: 9, why: null, cancelled: false, executable: null },
      {
        _class: 'hudson.model.Queue$LeftItem',
        id: 9,
        why: null,
        cancelled: false,
        executable: { _class: 'org.jenkinsci.plugins.workflow.job.WorkflowRun', number: 4, url: 'http://wrong-host:8080/jenkins/job/team%20a/job/WeSign-CI/4/' },
      },
    ];
    let i = 0;
    const s = await serve((req, res) => {
      if (!req.url?.startsWith('/jenkins/queue/item/9/api/json')) return res.writeHead(404).end();
      const st = states[i++];
      if (!st) return res.writeHead(404, { 'content-type': 'text/html' }).end('<html>Not Found</html>');
      json(res, st);
    });
    const c = new JenkinsClient({ baseUrl: `${s.url}/jenkins/`, user: USER, apiToken: TOKEN });
    const seen = [];
    for (let k = 0; k < states.length; k++) seen.push(await c.queueState({ id: 9 }));
    expect(seen.map((x) => [x.build?.number ?? null, x.cancelled, x.why])).toEqual([
      [null, false, 'In the quiet period. Expires in 4.9 sec'],
      [null, false, 'Build #3 is already in progress (ETA: 1 min)'],
      [null, false, 'Waiting for next available executor'],
      [null, false, 'Leaving the queue: the build is being created'],
      [4, false, null],
    ]);
    expect(seen[4]!.build!.job).toBe('team a/WeSign-CI');
    const gone = await caught(c.queueState({ id: 9 }));
    expect([gone.code, gone.retryable]).toEqual(['queue_item_gone', false]);
    expect(gone.message).toMatch(/findBuildByRunId/);
  });

  it('reports a cancelled queue item', async () => {
    const s = await serve((_req, res) => json(res, { _class: 'hudson.model.Queue$LeftItem', id: 3, cancelled: true, executable: null }));
    expect(await client(s).queueState({ id: 3 })).toEqual({ build: null, cancelled: true, why: null });
  });

  it('cancelItem: 204 is done, 500 means it already left the queue (§3.2)', async () => {
    let status = 204;
    const s = await serve((_req, res) => res.writeHead(status).end());
    const c = client(s);
    await c.cancelQueueItem({ id: 3 });
    expect(s.seen[0]).toMatchObject({ method: 'POST', url: '/queue/cancelItem?id=3' });
    status = 500;
    expect((await caught(c.cancelQueueItem({ id: 3 }))).code).toBe('queue_item_not_cancellable');
    status = 404;
    expect((await caught(c.cancelQueueItem({ id: 3 }))).code).toBe('queue_item_gone');
  });

  it('finds a still-queued run by QA_RUN_ID, also from the params text, and only for the right job', async () => {
    const s = await serve((_req, res) =>
      json(res, {
        _class: 'hudson.model.Queue',
        discoverableItems: [],
        items: [
          { id: 1, params: '\nQA_RUN_ID=run-9', task: { name: 'Other', url: 'http://h/job/Other/' }, actions: [{ parameters: [{ name: 'QA_RUN_ID', value: 'run-9' }] }] },
          { id: 2, params: '\nQA_RUN_ID=run-8', task: { name: 'WeSign-CI', url: 'http://h/job/WeSign-CI/' }, actions: [{}] },
          { id: 3, params: '\nQA_RUN_ID=run-9\nDRY_RUN=true', task: { name: 'WeSign-CI', url: 'http://h/job/WeSign-CI/' }, actions: [{}, { parameters: [{ name: 'QA_RUN_ID', value: 'run-9' }] }] },
        ],
      }),
    );
    const c = client(s);
    expect(await c.findQueuedByRunId('WeSign-CI', 'run-9')).toEqual({ id: 3 });
    expect(await c.findQueuedByRunId('WeSign-CI', 'run-8')).toEqual({ id: 2 });
    expect(await c.findQueuedByRunId('WeSign-CI', 'run-7')).toBeNull();
  });

  it('refuses to look for an empty QA_RUN_ID (it would match every build run with the default), without a request', async () => {
    const s = await serve((_req, res) => json(res, { builds: [{ number: 1, actions: [{ parameters: [{ name: 'QA_RUN_ID', value: '' }] }] }], items: [] }));
    const c = client(s);
    for (const call of [() => c.findBuildByRunId('WeSign-CI', ''), () => c.findQueuedByRunId('WeSign-CI', ' '), () => c.ensureTriggered('WeSign-CI', { ...params, QA_RUN_ID: '' })]) {
      expect((await caught(call())).code).toBe('invalid_argument');
    }
    expect(s.seen).toHaveLength(0);
  });

  it('buildState keeps building:true while result is already set (gotcha 3)', async () => {
    const s = await serve((_req, res) =>
      json(res, {
        _class: 'org.jenkinsci.plugins.workflow.job.WorkflowRun',
        number: 5,
        building: true,
        inProgress: true,
        result: 'UNSTABLE',
        timestamp: 1700000000000,
        duration: 0,
        description: null,
        actions: [{}, { _class: 'hudson.model.ParametersAction', parameters: [{ name: 'QA_RUN_ID', value: 'r' }, { name: 'DRY_RUN', value: false }, { name: 'PW' }] }, { _class: 'x' }],
      }),
    );
    const st = await client(s).buildState({ job: 'WeSign-CI', number: 5, url: '' });
    expect(st).toEqual({ building: true, result: 'UNSTABLE', timestampMs: 1700000000000, durationMs: 0, description: null, parameters: { QA_RUN_ID: 'r', DRY_RUN: false } });
    expect(decodeURIComponent(s.seen[0]!.url)).toContain('/job/WeSign-CI/5/api/json?tree=number,building,inProgress,result');
  });
});

describe('artifacts (§7)', () => {
  it('follows a redirect to another host without sending our Authorization there', async () => {
    const payload = Buffer.from('PK\x03\x04 fake zip bytes', 'latin1');
    const store = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip', 'x-saw-auth': String(req.headers.authorization !== undefined) });
      res.end(payload);
    });
    const s = await serve((req, res) => {
      expect(req.url).toBe('/job/WeSign-CI/2/artifact/reports/trx/unit%20tests.trx');
      res.writeHead(302, { location: `${store.url}/resource/abc?token=example` }).end();
    });
    const stream = await client(s).downloadArtifact({ job: 'WeSign-CI', number: 2, url: '' }, 'reports/trx/unit tests.trx');
    const bytes = Buffer.from(await new Response(stream).arrayBuffer());
    expect(bytes.equals(payload)).toBe(true);
    expect(store.seen[0]!.headers.authorization).toBeUndefined();
    expect(s.seen[0]!.headers.authorization).toBe(AUTH);
  });

  it('a directory redirect or a missing file is artifact_not_found', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/job/WeSign-CI/2/artifact/reports') return res.writeHead(302, { location: '/job/WeSign-CI/2/artifact/reports/' }).end();
      if (req.url === '/job/WeSign-CI/2/artifact/reports/') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>listing</html>');
      res.writeHead(404).end();
    });
    const c = client(s);
    expect((await caught(c.downloadArtifact({ job: 'WeSign-CI', number: 2, url: '' }, 'reports'))).code).toBe('artifact_not_found');
    expect((await caught(c.downloadArtifact({ job: 'WeSign-CI', number: 2, url: '' }, 'nope.txt'))).code).toBe('artifact_not_found');
  });
});
