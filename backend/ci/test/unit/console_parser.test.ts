import { describe, expect, it } from 'vitest';
import { parseConsoleChunk } from '../../src/ci/logs/console_parser.js';

describe('console parser', () => {
  it('attributes unmarked lines to the stage Jenkins opened and marked lines to their marker', () => {
    const text = [
      '[Pipeline] Start of Pipeline',
      '[Pipeline] { (Build & Unit Tests)',
      'Restoring packages',
      '[package] early marker wins',
      '[Pipeline] }',
      '[Pipeline] { (Stop IIS Pools)',
      'stopping',
      'Stage "Transfer Artifact" skipped due to when conditional',
      '[Pipeline] { (Branch: Tests: API)',
      'newman output',
      '[Pipeline] { (Declarative: Post Actions)',
      'archiving',
      '',
    ].join('\n');
    const { lines } = parseConsoleChunk({ pending: '', stage: 'checkout' }, text, false);
    expect(lines.map((l) => `${l.stage}|${l.text}`)).toEqual([
      'checkout|[Pipeline] Start of Pipeline',
      'build|[Pipeline] { (Build & Unit Tests)',
      'build|Restoring packages',
      'package|early marker wins',
      'build|[Pipeline] }',
      'deploy|[Pipeline] { (Stop IIS Pools)',
      'deploy|stopping',
      'transfer|Stage "Transfer Artifact" skipped due to when conditional',
      'api|[Pipeline] { (Branch: Tests: API)',
      'api|newman output',
      'report|[Pipeline] { (Declarative: Post Actions)',
      'report|archiving',
    ]);
  });

  it('keeps a partial last line pending until its newline arrives, across chunks', () => {
    let st = { pending: '', stage: 'checkout' as const };
    const a = parseConsoleChunk(st, '[build] hel', false);
    expect(a.lines).toEqual([]);
    const b = parseConsoleChunk(a.state, 'lo\r\n[build] next', false);
    expect(b.lines).toEqual([{ stage: 'build', text: 'hello' }]);
    const c = parseConsoleChunk(b.state, '', true);
    expect(c.lines).toEqual([{ stage: 'build', text: 'next' }]);
    expect(c.state.pending).toBe('');
    void st;
  });

  it('ignores a Timestamper prefix when detecting markers and stage switches', () => {
    const { lines } = parseConsoleChunk({ pending: '', stage: 'checkout' }, '12:00:01 [Pipeline] { (Package)\n[2026-12-04T10:00:00.000Z] [smoke] ok\n', false);
    expect(lines[0]!.stage).toBe('package');
    expect(lines[1]).toEqual({ stage: 'smoke', text: 'ok' });
  });

  it('does not treat an unknown bracketed word as a marker', () => {
    const { lines } = parseConsoleChunk({ pending: '', stage: 'build' }, '[INFO] something\n', false);
    expect(lines[0]).toEqual({ stage: 'build', text: '[INFO] something' });
  });

  it('cuts pathological long lines', () => {
    const { lines } = parseConsoleChunk({ pending: '', stage: 'build' }, 'x'.repeat(100_000) + '\n', false);
    expect(lines[0]!.text.length).toBeLessThan(17_000);
    expect(lines[0]!.text).toContain('line cut');
  });
});
