/**
 * redactLines is the fast path the log ingest uses: it must give exactly what `redact` gives on
 * each line (same text, same findings), only faster. A line it wrongly skips would store a secret.
 */
import { describe, expect, it } from 'vitest';
import { MAX_LINE_CHARS, parseConsoleChunk } from '../../src/ci/logs/console_parser.js';
import { createRedactor, type RedactionFinding } from '../../src/ci/redact.js';

/** One line per rule, in the shapes a careless build prints (all fake). */
const SECRET_LINES = [
  '-----BEGIN RSA PRIVATE KEY----- MIIfakeEXAMPLEprivateKEYbody0123456789 -----END RSA PRIVATE KEY-----',
  'git clone https://ci-bot:FakeRepoPass-example-1234@gitlab.example.com/wesign.git',
  'curl -H "Authorization: Bearer fake-bearer-example-0123456789"',
  'Authorization: Basic ZmFrZTpmYWtlLXBhc3N3b3Jk',
  'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlLWV4YW1wbGUifQ.ZmFrZS1zaWduYXR1cmUtZXhhbXBsZQ end',
  `X-Api-Key qaci_${'a'.repeat(43)} used`,
  `wss://host/ci/runs/1/logs?ticket=${'b'.repeat(43)}`,
  'aws AKIAFAKEEXAMPLE00001 and ASIAFAKEEXAMPLE00002',
  'slack xoxb-fake-0123456789-example',
  'gh ghp_FAKEexample0123456789abcdefghijklmn glpat-FAKEexample0123456789ab',
  'Server=db;Database=WeSign;User Id=sa;Password=FakeConnPass-example-77;',
  'PWD = "Fake Quoted Pass"; other',
  'api_key: FakeApiKey-example-0123456789',
  'CLIENT-SECRET="FakeClientSecret-0123"',
  'password=FakeCredPass-example-99 user=svc',
  'Token: FakeTokenValue-123456',
  'the configured value is the-configured-secret-42 here',
];
const NOISE = [
  '[Pipeline] { (Build & Unit Tests)',
  '[build] dotnet build WeSign.sln -c Release',
  'Restored /src/WeSign.Api/WeSign.Api.csproj (in 1.2 sec).',
  'password: ${env:DB_PASSWORD}',
  'token = ****',
  'see https://docs.example.com/keys for the API key rotation policy',
  'Basic checks passed; secret scanning found nothing',
  '',
  '   \r progress 42%',
  'ünïcödé שלום ✓ 🚀',
];

function sum(findings: readonly RedactionFinding[]) {
  const m = new Map<string, number>();
  for (const f of findings) m.set(f.kind, (m.get(f.kind) ?? 0) + f.count);
  return Object.fromEntries([...m].sort());
}

describe('redactLines', () => {
  const redactor = createRedactor(['the-configured-secret-42']);

  it('gives what redact gives on every line, for each rule and for lines that only look like secrets', () => {
    const lines = [...SECRET_LINES, ...NOISE];
    const want = lines.map((l) => redactor.redact(l));
    const got = redactor.redactLines(lines);
    expect(got.lines).toEqual(want.map((w) => w.text));
    expect(sum(got.findings)).toEqual(sum(want.flatMap((w) => w.findings)));
    // Every secret line was changed: the fast path found each of them.
    SECRET_LINES.forEach((l, i) => expect(got.lines[i], l).not.toBe(l));
  });

  it('matches redact on a long shuffled log with secrets at the start, middle and end of lines and of the log', () => {
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
    const lines = Array.from({ length: 5000 }, () => {
      const r = rnd();
      if (r < 0.05) return pick(SECRET_LINES);
      if (r < 0.1) return `${pick(NOISE)} ${pick(SECRET_LINES)} ${pick(NOISE)}`;
      if (r < 0.12) return `${pick(SECRET_LINES)}${pick(SECRET_LINES)}`;
      return `${Math.floor(rnd() * 1e6)} ${pick(NOISE)}`;
    });
    lines.unshift(SECRET_LINES[1]!);
    lines.push(SECRET_LINES[14]!);
    const want = lines.map((l) => redactor.redact(l));
    const got = redactor.redactLines(lines);
    expect(got.lines).toEqual(want.map((w) => w.text));
    expect(sum(got.findings)).toEqual(sum(want.flatMap((w) => w.findings)));
  });

  it('returns the same strings, and no findings, for lines without a trigger', () => {
    const lines = ['[build] compiling', 'all 120 tests passed', ''];
    const got = redactor.redactLines(lines);
    expect(got.findings).toEqual([]);
    got.lines.forEach((l, i) => expect(l).toBe(lines[i]));
    expect(redactor.redactLines([])).toEqual({ lines: [], findings: [], inKeyBlock: false });
  });

  it('scanning the console text the parser cut the lines from gives the same result (markers, CRs, timestamps, cut lines, an unfinished tail)', () => {
    let seed = 11;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
    const raw = Array.from({ length: 3000 }, (_, i) => {
      const body = rnd() < 0.15 ? pick(SECRET_LINES) : `${i} ${pick(NOISE)}`;
      const marked = rnd() < 0.3 ? `[${pick(['build', 'deploy', 'smoke'])}] ${body}` : body;
      const stamped = rnd() < 0.2 ? `[2026-12-04T10:00:00.000Z] ${marked}` : marked;
      const long = rnd() < 0.01 ? `${'z'.repeat(MAX_LINE_CHARS - 10)} ${pick(SECRET_LINES)}` : stamped;
      return rnd() < 0.5 ? `${long}\r` : long;
    });
    // Two slices, the first ending mid-line, then the tail: what the orchestrator gets from a reply.
    const text = `${raw.join('\n')}\npassword=FakeTail`;
    const cut = Math.floor(text.length / 2);
    let state = { pending: '', stage: 'checkout' as const } as Parameters<typeof parseConsoleChunk>[0];
    for (const [piece, final] of [[text.slice(0, cut), false], [text.slice(cut), true]] as const) {
      const parsed = parseConsoleChunk(state, piece, final);
      state = parsed.state;
      const texts = parsed.lines.map((l) => l.text);
      const want = texts.map((l) => redactor.redact(l));
      const got = redactor.redactLines(texts, parsed.source);
      expect(got.lines).toEqual(want.map((w) => w.text));
      expect(sum(got.findings)).toEqual(sum(want.flatMap((w) => w.findings)));
      expect(want.some((w) => w.findings.length)).toBe(true);
    }
  });

  it('masks every line of a PEM private key printed over several lines, also when the key spans two batches', () => {
    const body = ['MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7', 'qH7NXFake0ExampleKeyBody0123456789abcdefghijABCDEFGHIJ', 'Zm9vYmFyZmFrZWtleWJvZHlleGFtcGxlMDEyMzQ1Njc4OQ=='];
    const lines = ['[deploy] Get-Content cert.key', '-----BEGIN PRIVATE KEY-----', ...body, '-----END PRIVATE KEY----- password=FakeAfterEnd-1', 'next step'];
    const all = redactor.redactLines(lines);
    expect(all.inKeyBlock).toBe(false);
    expect(all.lines.join('\n')).not.toMatch(/MIIEvQ|qH7NX|Zm9vYmFy|FakeAfterEnd/);
    expect(all.lines[0]).toBe(lines[0]);
    expect(all.lines[lines.length - 1]).toBe('next step');
    expect(all.lines.slice(2, 5)).toEqual(['****', '****', '****']);
    expect(all.lines[5]).toBe('**** -----END PRIVATE KEY----- password=****');
    expect(sum(all.findings)).toEqual({ connection_string_password: 1, private_key: 1 });

    // The same lines in two batches, cut inside the key: the state carries the masking over.
    const first = redactor.redactLines(lines.slice(0, 3));
    expect(first.inKeyBlock).toBe(true);
    const second = redactor.redactLines(lines.slice(3), undefined, first.inKeyBlock);
    expect([...first.lines, ...second.lines]).toEqual(all.lines);
    expect(second.inKeyBlock).toBe(false);
  });

  it('a one-line key, and a BEGIN with its END on the same line, leave the next lines alone', () => {
    const lines = ['-----BEGIN RSA PRIVATE KEY----- MIIfake -----END RSA PRIVATE KEY-----', 'plain line after'];
    const got = redactor.redactLines(lines);
    expect(got.inKeyBlock).toBe(false);
    expect(got.lines[1]).toBe('plain line after');
    expect(got.lines[0]).not.toContain('MIIfake');
  });
});
