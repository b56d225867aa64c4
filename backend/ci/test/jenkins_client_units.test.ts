// Pure parts of the Jenkins client: console chunk decoding, URL paths, withRetry.
// (HTTP behaviour is tested over real sockets in jenkins_client_http.test.ts and
// jenkins_client_sandbox.test.ts.)
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../src/ci/errors.js';
import { cleanConsoleText, decodeConsoleChunk, incompleteUtf8TailLength } from '../src/ci/providers/jenkins/console.js';
import { summarizeErrorPage, parseBaseUrl } from '../src/ci/providers/jenkins/http.js';
import { artifactUrlPath, buildFromUrl, jobFromUrl, jobPath, queueIdFromLocation } from '../src/ci/providers/jenkins/paths.js';
import { withRetry } from '../src/ci/providers/jenkins/retry.js';

const NOTE = '\x1b[8mha:////4MWhRz+aGVsbG8gd29ybGQ=\x1b[0m';
const enc = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

describe('console chunk decoding', () => {
  it('strips console notes and turns CRLF into LF, keeping ANSI colours and lone CRs', () => {
    expect(cleanConsoleText(`${NOTE}[Pipeline] stage\r\n\x1b[32mok\x1b[0m\r\nprogress 50%\rprogress 100%\r\n`)).toBe(
      '[Pipeline] stage\n\x1b[32mok\x1b[0m\nprogress 50%\rprogress 100%\n',
    );
  });

  it('uses X-Text-Size as the cursor, not the body length (LF was sent as CRLF)', () => {
    const raw = 'a\nb\n'; // 4 raw bytes, sent as 6
    const chunk = decodeConsoleChunk(enc('a\r\nb\r\n'), 10, 10 + raw.length, true);
    expect(chunk).toEqual({ text: 'a\nb\n', nextOffset: 14 });
  });

  it('holds back half a UTF-8 sequence and moves the cursor to its first byte', () => {
    const bytes = enc('שלום'); // 8 bytes
    const cut = bytes.subarray(0, 5); // "של" + the first byte of "ו"
    const first = decodeConsoleChunk(cut, 0, 5, true);
    expect(first).toEqual({ text: 'של', nextOffset: 4 });
    const second = decodeConsoleChunk(bytes.subarray(4), 4, 8, false);
    expect(first.text + second.text).toBe('שלום');
  });

  it('holds back half a 4-byte sequence (emoji)', () => {
    const bytes = enc('ok 🚀');
    for (let cut = 4; cut < bytes.length; cut++) {
      const a = decodeConsoleChunk(bytes.subarray(0, cut), 0, cut, true);
      expect(a.nextOffset).toBe(3);
      expect(a.text).toBe('ok ');
    }
  });

  it('holds back a console note whose end has not arrived, and a partial note preamble', () => {
    const line = `${NOTE}[Pipeline] echo\n`;
    for (let cut = 1; cut < NOTE.length; cut++) {
      const text = `done\n${line}`;
      const bytes = enc(text);
      const a = decodeConsoleChunk(bytes.subarray(0, 5 + cut), 0, 5 + cut, true);
      expect(a).toEqual({ text: 'done\n', nextOffset: 5 });
      const b = decodeConsoleChunk(bytes.subarray(a.nextOffset), a.nextOffset, bytes.length, false);
      expect(a.text + b.text).toBe('done\n[Pipeline] echo\n');
    }
  });

  it('holds back a CR that may be the first half of a CRLF', () => {
    const a = decodeConsoleChunk(enc('line\r'), 0, 5, true);
    expect(a).toEqual({ text: 'line', nextOffset: 4 });
  });

  it('holds nothing back once the log is complete (no X-More-Data)', () => {
    // A finished log that really ends with a broken sequence: print U+FFFD, do not wait forever.
    const done = decodeConsoleChunk(Buffer.concat([enc('end'), Buffer.from([0xe2])]), 0, 4, false);
    expect(done.nextOffset).toBe(4);
    expect(done.text).toBe('end\uFFFD');
  });

  it('never moves the cursor before start when the body does not end at X-Text-Size', () => {
    const a = decodeConsoleChunk(enc('x\r'), 100, 100, true);
    expect(a.nextOffset).toBe(100);
  });

  it('counts incomplete UTF-8 tails exactly', () => {
    expect(incompleteUtf8TailLength(Uint8Array.from([0x61]))).toBe(0);
    expect(incompleteUtf8TailLength(Uint8Array.from([0xd7]))).toBe(1);
    expect(incompleteUtf8TailLength(Uint8Array.from([0xd7, 0xa9]))).toBe(0);
    expect(incompleteUtf8TailLength(Uint8Array.from([0xf0, 0x9f, 0x9a]))).toBe(3);
    expect(incompleteUtf8TailLength(Uint8Array.from([0xf0, 0x9f, 0x9a, 0x80]))).toBe(0);
    expect(incompleteUtf8TailLength(Uint8Array.from([0xff]))).toBe(0);
  });
});

describe('Jenkins URL paths', () => {
  it('turns a folder job name into /job/a/job/b with each segment encoded (§2.1)', () => {
    expect(jobPath('WeSign-CI')).toBe('/job/WeSign-CI');
    expect(jobPath('team a/We#Sign?x')).toBe('/job/team%20a/job/We%23Sign%3Fx');
  });

  it('refuses job names that would resolve to another URL', () => {
    for (const bad of ['', 'a//b', '../x', 'a/./b', '/lead', 'trail/', ' pad']) {
      expect(() => jobPath(bad), bad).toThrow(ProviderError);
    }
    try {
      jobPath('a/../b');
    } catch (e) {
      expect((e as ProviderError).code).toBe('invalid_job_name');
      expect((e as ProviderError).message).toMatch(/folder\/WeSign-CI/);
    }
  });

  it('encodes artifact path segments and refuses traversal', () => {
    expect(artifactUrlPath('reports/trx/unit tests#1.trx')).toBe('reports/trx/unit%20tests%231.trx');
    for (const bad of ['', '../etc/passwd', 'a/../../b', 'a\\b', '/abs']) expect(() => artifactUrlPath(bad), bad).toThrow(/relative path|empty/);
  });

  it('takes the queue id from the Location path only, whatever the host (gotcha 6)', () => {
    expect(queueIdFromLocation('http://wrong-host.internal:8080/queue/item/42/', 'http://127.0.0.1:1')).toBe(42);
    expect(queueIdFromLocation('/jenkins/queue/item/7', 'http://127.0.0.1:1/jenkins')).toBe(7);
    expect(queueIdFromLocation('http://h/job/x/', 'http://h')).toBeNull();
    expect(queueIdFromLocation(null, 'http://h')).toBeNull();
  });

  it('reads the job and number from an absolute build URL with a foreign host and context path', () => {
    expect(buildFromUrl('http://container:8080/jenkins/job/team%20a/job/WeSign-CI/12/', '/jenkins')).toEqual({ job: 'team a/WeSign-CI', number: 12 });
    expect(buildFromUrl('http://proxy/other/job/WeSign-CI/3/', '/jenkins')).toEqual({ job: 'WeSign-CI', number: 3 });
    expect(buildFromUrl('http://h/job/x/lastBuild/', '')).toBeNull();
    expect(jobFromUrl('http://h/jenkins/job/a/job/b/', '/jenkins')).toBe('a/b');
  });

  it('rejects a base URL with credentials without echoing them', () => {
    try {
      parseBaseUrl('https://admin:fake-secret-example@jenkins.example.com/');
      expect.unreachable();
    } catch (e) {
      expect((e as ProviderError).code).toBe('invalid_config');
      expect((e as Error).message).not.toContain('fake-secret-example');
      expect((e as Error).message).toMatch(/JENKINS_USER.*JENKINS_API_TOKEN/);
    }
    expect(parseBaseUrl('http://host:8080/jenkins/')).toEqual({ url: 'http://host:8080/jenkins', contextPath: '/jenkins' });
    expect(() => parseBaseUrl('ftp://host/')).toThrow(/http/);
  });

  it('quotes the exception of a Jenkins "Oops" page', () => {
    const page = '<html><head><title>Jenkins</title></head><body><h2>Oops!</h2><pre>java.lang.IllegalArgumentException: Illegal choice for parameter TEST_SUITE: all\n\tat hudson.model.ChoiceParameterDefinition.checkValue</pre></body></html>';
    expect(summarizeErrorPage(page)).toBe('java.lang.IllegalArgumentException: Illegal choice for parameter TEST_SUITE: all');
    expect(summarizeErrorPage('<html><head><title>Error 409 WeSign-CI is not buildable</title></head></html>')).toBe('Error 409 WeSign-CI is not buildable');
  });
});

describe('withRetry', () => {
  const transient = () => new ProviderError('server_error', 'Jenkins answered 503', true, 503);
  const fast = { baseDelayMs: 1, maxDelayMs: 2 };

  it('retries retryable errors until the call succeeds, reporting each retry', async () => {
    let calls = 0;
    const retries: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        calls++;
        if (attempt < 4) throw transient();
        return 'ok';
      },
      { deadlineMs: 10_000, onRetry: (i) => retries.push(i.attempt), ...fast },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(4);
    expect(retries).toEqual([1, 2, 3]);
  });

  it('rethrows a non-retryable error at once', async () => {
    let calls = 0;
    const auth = new ProviderError('auth_failed', 'check JENKINS_USER and JENKINS_API_TOKEN', false, 401);
    await expect(
      withRetry(async () => {
        calls++;
        throw auth;
      }, { deadlineMs: 10_000, ...fast }),
    ).rejects.toBe(auth);
    expect(calls).toBe(1);
  });

  it('does not retry errors that are not ProviderErrors (bugs)', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new TypeError('x is undefined');
      }, { deadlineMs: 10_000, ...fast }),
    ).rejects.toThrow(TypeError);
    expect(calls).toBe(1);
  });

  it('gives up at the deadline with the last error', async () => {
    let n = 0;
    const err = await withRetry(async () => {
      n++;
      throw new ProviderError('network_error', `attempt ${n}`, true);
    }, { deadlineMs: 30, ...fast }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toBe(`attempt ${n}`);
    expect(n).toBeGreaterThan(1);
  });

  it('grows the backoff exponentially with jitter inside [step/2, step]', async () => {
    const delays: number[] = [];
    await withRetry(
      async (attempt) => {
        if (attempt <= 5) throw transient();
        return null;
      },
      { deadlineMs: 60_000, baseDelayMs: 2, maxDelayMs: 16, random: () => 0.999, onRetry: (i) => delays.push(i.delayMs) },
    );
    expect(delays).toEqual([2, 4, 8, 16, 16]);
    const low: number[] = [];
    await withRetry(async (a) => (a <= 3 ? Promise.reject(transient()) : null), { deadlineMs: 60_000, baseDelayMs: 4, random: () => 0, onRetry: (i) => low.push(i.delayMs) });
    expect(low).toEqual([2, 4, 8]);
  });

  it('stops with "aborted" when the signal aborts during a wait', async () => {
    const ac = new AbortController();
    const err = await withRetry(
      async () => {
        throw transient();
      },
      { deadlineMs: 60_000, baseDelayMs: 60_000, signal: ac.signal, onRetry: () => setImmediate(() => ac.abort()) },
    ).catch((e: unknown) => e);
    expect((err as ProviderError).code).toBe('aborted');
    expect((err as ProviderError).retryable).toBe(false);
  });
});
