/**
 * Human summaries of a Summary: Markdown (Teams, email, summary.md) and a short
 * plain-text block for the console. Both only restate summary.json.
 */
import type { Summary, SuiteCounts } from './types.js';

export interface RenderLinks {
  runUrl?: string;
  /** Base URL of the run's artifacts; an artifact's link is `${artifactBase}/${path}`. */
  artifactBase?: string;
}

const STATUS_LABEL: Record<Summary['verdict']['status'], string> = {
  success: '✅ success',
  failed: '❌ failed',
  rolled_back: '↩️ rolled back',
};

/** Escapes text for a Markdown table cell or inline text. */
export function mdEscape(s: string): string {
  return s.replace(/[\\`*_{}[\]<>|#]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

const joinUrl = (base: string, p: string) => `${base.replace(/\/+$/, '')}/${p.split('/').map(encodeURIComponent).join('/')}`;

function suiteLine(label: string, t: SuiteCounts, present: boolean): string {
  if (!present) return `| ${label} | — | — | — | — | — |`;
  return `| ${label} | ${t.passed} | ${t.failed + t.errors} | ${t.skipped} | ${t.total} | ${formatMs(t.duration_ms)} |`;
}

export function renderMarkdown(s: Summary, links: RenderLinks = {}): string {
  const r = s.run;
  const out: string[] = [];
  out.push(`## ${mdEscape(r.app)} → ${mdEscape(r.env)}: ${STATUS_LABEL[s.verdict.status]}`);
  out.push('');
  const kind = r.kind === 'rollback' ? 'rollback' : r.dry_run ? 'dry run' : 'deploy';
  out.push(
    `**Run** ${links.runUrl ? `[${mdEscape(r.run_id)}](${links.runUrl})` : mdEscape(r.run_id)} · ${kind} of \`${mdEscape(r.branch_or_tag)}\`${r.commit ? ` (${mdEscape(r.commit.slice(0, 12))})` : ''} · by ${mdEscape(r.initiator)} · ${formatMs(r.duration_ms)} · test suite ${r.test_suite}`,
  );
  out.push('');
  out.push(`**Run Score ${s.score.value}** (threshold ${s.score.threshold}) — ${mdEscape(s.score.formula)}`);
  if (s.verdict.failed_gates.length) out.push('', `**Failed gates:** ${s.verdict.failed_gates.join(', ')}`);
  if (s.rollback_failed) out.push('', '**🚨 ROLLBACK FAILED: DevTest may be down. Restore the backup by hand (docs/Runbook.md).**');
  if (s.verdict.failure) {
    const f = s.verdict.failure;
    out.push('', `**Failure (${f.kind}):** ${mdEscape(f.message)}`, '', `**Next step:** ${mdEscape(f.next_step)}`);
    if (f.evidence.length) out.push('', ...f.evidence.map((e) => `> ${mdEscape(e)}`));
  }

  out.push('', '### Gates', '', '| gate | result | reason |', '|---|---|---|');
  for (const g of s.gates) out.push(`| ${g.id} | ${g.passed ? 'pass' : '**FAIL**'} | ${mdEscape(g.reason)} |`);

  out.push('', '### Score', '', '| component | weight | included | score | detail |', '|---|---|---|---|---|');
  for (const c of s.score.components) out.push(`| ${c.id} | ${c.weight} | ${c.included ? 'yes' : 'no'} | ${c.score ?? '—'} | ${mdEscape(c.detail)} |`);

  out.push('', '### Tests', '', '| suite | passed | failed | skipped | total | duration |', '|---|---|---|---|---|---|');
  out.push(suiteLine('unit (TRX)', s.tests.build, s.tests.build.present));
  out.push(suiteLine('API (Newman assertions)', s.tests.api, s.tests.api.present));
  out.push(suiteLine('E2E (pytest)', s.tests.e2e, s.tests.e2e.present));
  const failed = (['build', 'api', 'e2e'] as const).flatMap((k) => s.tests[k].failed_tests.map((n) => `${k}: ${n}`));
  if (failed.length) {
    out.push('', '**Failed tests**', '', ...failed.slice(0, 20).map((n) => `- ${mdEscape(n)}`));
    if (failed.length > 20) out.push(`- … and ${failed.length - 20} more`);
  }
  const slow = (['build', 'api', 'e2e'] as const).flatMap((k) => s.tests[k].slowest.slice(0, 3).map((x) => `${k}: ${x.name} (${formatMs(x.ms)})`));
  if (slow.length) out.push('', '**Slowest**', '', ...slow.map((n) => `- ${mdEscape(n)}`));

  if (!r.dry_run) {
    out.push('', '### Smoke', '');
    if (!s.smoke.present) out.push('No smoke result.');
    for (const u of s.smoke.urls) out.push(`- ${u.healthy ? 'healthy' : '**unhealthy**'} ${mdEscape(u.url)} — ${u.status_code ?? mdEscape(u.error ?? 'no response')}${u.ms !== null ? `, ${formatMs(u.ms)}` : ''}${u.attempts ? `, ${u.attempts} attempt(s)` : ''}`);
  }
  if (s.deployment.present) {
    const d = s.deployment;
    out.push('', '### Deployment', '', `- backup: ${mdEscape(d.backup_id ?? 'none')}${d.backup_path ? ` (${mdEscape(d.backup_path)})` : ''}`);
    if (d.artifact_sha256) out.push(`- artifact SHA-256: \`${d.artifact_sha256}\`${d.artifact_matches_manifest === false ? ' — **differs from artifact.json**' : ''}`);
    if (d.migrations_ran) out.push('- EF migrations ran (a rollback does not undo them)');
  }
  if (s.rollback.present) {
    const rb = s.rollback;
    out.push('', '### Rollback', '', `- restored backup ${mdEscape(rb.backup_id ?? '?')}: ${rb.restored === false ? '**restore failed**' : 'restored'}; re-smoke ${rb.resmoke_passed ? 'passed' : '**failed**'}`);
    if (rb.database_warning) out.push(`- ⚠️ ${mdEscape(rb.database_warning)}`);
  }

  out.push('', '### Stages', '', '| stage | status | duration |', '|---|---|---|');
  for (const st of s.stages) out.push(`| ${mdEscape(st.name)} | ${st.status} | ${formatMs(st.duration_ms)} |`);

  const reports = s.artifacts.filter((a) => /(^|\/)(newman\.html|playwright\.html|summary\.json|summary\.md|.*\.trx|deploy\.log|smoke_.*\.log)$/.test(a.path));
  if (reports.length) {
    out.push('', '### Reports', '');
    for (const a of reports) out.push(`- ${links.artifactBase ? `[${mdEscape(a.path)}](${joinUrl(links.artifactBase, a.path)})` : mdEscape(a.path)} (${a.bytes} bytes)`);
  }
  if (s.jenkins_summary_disagreement) {
    out.push('', '### ⚠️ Jenkins-side summary disagrees', '');
    for (const d of s.jenkins_summary_disagreement.differences) out.push(`- ${mdEscape(d.field)}: Jenkins ${mdEscape(JSON.stringify(d.jenkins))}, backend ${mdEscape(JSON.stringify(d.backend))}`);
  }
  return `${out.join('\n')}\n`;
}

export function renderConsoleBlock(s: Summary): string {
  const r = s.run;
  const lines: string[] = [];
  const status = s.verdict.status.toUpperCase().replace('_', ' ');
  lines.push('==================== QA Intelligence run summary ====================');
  lines.push(`Run      ${r.run_id}  ${r.app}/${r.env}  ${r.kind}${r.dry_run ? ' (dry run)' : ''}  ${r.branch_or_tag}  by ${r.initiator}`);
  lines.push(`Status   ${status}${s.verdict.failed_gates.length ? `  (failed gates: ${s.verdict.failed_gates.join(', ')})` : ''}${s.rollback_failed ? '  ROLLBACK FAILED' : ''}`);
  lines.push(`Score    ${s.score.value} / threshold ${s.score.threshold}   ${s.score.components.filter((c) => c.included).map((c) => `${c.id} ${c.score}×${c.weight}`).join('  ')}`);
  const t = s.tests;
  const parts: string[] = [];
  if (t.build.present) parts.push(`unit ${t.build.passed}/${t.build.passed + t.build.failed} passed`);
  if (t.api.present) parts.push(`api ${t.api.assertions.passed}/${t.api.assertions.total} assertions`);
  if (t.e2e.present) parts.push(`e2e ${t.e2e.passed}/${t.e2e.passed + t.e2e.failed + t.e2e.errors} passed`);
  if (parts.length) lines.push(`Tests    ${parts.join('  ·  ')}`);
  if (!r.dry_run && s.smoke.present) lines.push(`Smoke    ${s.smoke.healthy}/${s.smoke.expected_urls.length || s.smoke.urls.length} healthy`);
  for (const g of s.gates.filter((x) => !x.passed)) lines.push(`Gate     ${g.id}: ${g.reason}`);
  if (s.verdict.failure) {
    lines.push(`Failure  ${s.verdict.failure.kind}: ${s.verdict.failure.message}`);
    lines.push(`Next     ${s.verdict.failure.next_step}`);
  }
  if (r.run_url) lines.push(`Run      ${r.run_url}`);
  lines.push('=====================================================================');
  return `${lines.join('\n')}\n`;
}
