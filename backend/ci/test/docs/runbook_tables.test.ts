/**
 * The Runbook's reference tables stay true as the code changes: every quality
 * gate (models.ts GateId), every failure class (reports/types.ts FailureKind,
 * the classifier's output) and every Pre-flight check id the scripts can fail
 * (scripts/ps/preflight.ps1 and target_ops.ps1) has its row, and no row names
 * one that does not exist.
 */
import { describe, expect, it } from 'vitest';
import { proseOf, readDoc } from './markdown.js';

/** First-column backticked ids of the table under `### <heading>` in the Runbook. */
function tableIds(heading: string): string[] {
  const text = proseOf(readDoc('docs/Runbook.md'));
  const start = text.indexOf(`\n### ${heading}\n`);
  if (start < 0) throw new Error(`docs/Runbook.md has no "### ${heading}" section`);
  const rest = text.slice(start + 1);
  const next = rest.slice(1).search(/\n#{2,3} /);
  const section = next < 0 ? rest : rest.slice(0, next + 1);
  const lines = section.split('\n');
  return lines
    // Body rows only: the header row is the one right above the |---| line.
    .filter((l, i) => l.startsWith('| `') && !/^\|[\s:|-]+\|$/.test(lines[i + 1] ?? ''))
    .flatMap((l) => (l.split('|')[1] ?? '').match(/`([^`]+)`/g) ?? [])
    .map((s) => s.slice(1, -1));
}

const quoted = (s: string) => [...s.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);

function preflightIdsThatCanFail(): string[] {
  const preflight = readDoc('scripts/ps/preflight.ps1');
  const target = readDoc('scripts/ps/target_ops.ps1');
  const literal = new Set<string>();
  const okOnly = new Set<string>();
  for (const m of preflight.matchAll(/Add-Check -Id '([a-z_]+)' -Ok (\S+)/g)) (m[2] === '$true' ? okOnly : literal).add(m[1]!);
  for (const m of target.matchAll(/New-PreflightCheck -Id '([a-z_]+)' -Ok (\S+)/g)) (m[2] === '$true' ? okOnly : literal).add(m[1]!);
  const ids = [...literal];
  // Ids built at run time: one per required tool, per IIS service, per pool, per drive.
  const tools = /\[string\[\]\]\$RequiredTools = @\(([^)]*)\)/.exec(preflight)?.[1];
  if (!tools || !preflight.includes("-Id ('tool_' + $tool)")) throw new Error('preflight.ps1: the tool_<name> checks changed; update this test');
  ids.push(...quoted(tools).map((t) => `tool_${t}`));
  const services = /foreach \(\$serviceName in @\(([^)]*)\)\)/.exec(target)?.[1];
  if (!services || !target.includes("-Id ('service_' + $serviceName.ToLowerInvariant())")) throw new Error('target_ops.ps1: the service_<name> checks changed; update this test');
  ids.push(...[...services.matchAll(/'([A-Za-z0-9]+)'/g)].map((m) => `service_${m[1]!.toLowerCase()}`));
  if (target.includes("-Id ('pool_' + $pool)")) ids.push('pool_<name>');
  if (target.includes("$id = 'disk_' +")) ids.push('disk_<drive>');
  return ids.sort();
}

describe('docs/Runbook.md reference tables match the code', () => {
  it('Quality gates: one row per gate of models.ts', () => {
    const gates = quoted(/export const GateId = z\.enum\(\[([^\]]*)\]\)/.exec(readDoc('backend/ci/src/ci/models.ts'))?.[1] ?? '');
    expect(gates.length).toBe(6);
    expect(tableIds('Quality gates').sort()).toEqual([...gates].sort());
  });

  it('Failure classes: one row per FailureKind the classifier returns', () => {
    const kinds = quoted(/export type FailureKind = ([^;]*);/.exec(readDoc('backend/ci/src/ci/reports/types.ts'))?.[1] ?? '');
    expect(kinds).toContain('unknown');
    // Every rule of the classifier returns one of them.
    for (const k of quoted([...readDoc('backend/ci/src/ci/reports/classify.ts').matchAll(/kind: '([a-z_]+)'/g)].map((m) => `'${m[1]}'`).join(' '))) expect(kinds).toContain(k);
    expect(tableIds('Failure classes').sort()).toEqual([...kinds].sort());
  });

  it('Preflight checks: one row per check id the scripts can fail', () => {
    const ids = preflightIdsThatCanFail();
    expect(ids).toEqual(expect.arrayContaining(['tcp_winrm', 'winrm_session', 'iis_module', 'tool_py', 'service_w3svc', 'pool_<name>']));
    expect(tableIds('Preflight checks').sort()).toEqual(ids);
  });

  it('Run statuses: one row per status of models.ts', () => {
    const statuses = quoted(/export const RUN_STATUSES = \[([^\]]*)\]/.exec(readDoc('backend/ci/src/ci/models.ts'))?.[1] ?? '');
    expect(statuses).toContain('rolled_back');
    const rows = tableIds('Run statuses').filter((s) => s !== 'rollback_failed');
    expect([...new Set(rows)].sort()).toEqual([...statuses].sort());
  });
});
