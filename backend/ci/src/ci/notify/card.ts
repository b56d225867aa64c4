/**
 * The Teams message: an Adaptive Card (schema 1.4, what Teams incoming
 * webhooks and Workflows render) with status, score, failed gates, duration,
 * initiator and links to the run and its reports.
 */
import type { NotificationEvent } from '../notify.js';
import { formatMs } from '../reports/render.js';

const COLOR: Record<string, 'Good' | 'Attention' | 'Warning' | 'Default'> = {
  success: 'Good',
  failed: 'Attention',
  error: 'Attention',
  rolled_back: 'Warning',
  cancelled: 'Default',
};

/** Report links shown as buttons, in this order, when the run has them. */
const REPORT_LINKS: Array<{ title: string; match: (path: string) => boolean }> = [
  { title: 'API report (newman.html)', match: (p) => p === 'newman.html' },
  { title: 'E2E report (playwright.html)', match: (p) => p === 'playwright.html' },
  { title: 'Unit tests (TRX)', match: (p) => p.endsWith('.trx') },
  { title: 'summary.json', match: (p) => p === 'summary.json' },
  { title: 'deploy.log', match: (p) => p === 'deploy.log' },
];

/** Teams rejects cards over ~28 KB; long reasons are cut, the full text is in summary.json. */
export const clip = (s: string, max = 1000) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export function statusLabel(e: NotificationEvent): string {
  const s = e.run.status.replace('_', ' ').toUpperCase();
  return e.summary.rollback_failed ? `${s} — ROLLBACK FAILED` : s;
}

/** Links to the run page and its reports (at most 5 buttons: Teams shows no more). */
export function reportLinks(e: NotificationEvent): Array<{ title: string; url: string }> {
  const links = [{ title: 'Open run', url: e.run.run_url }];
  const paths = Object.keys(e.run.artifact_urls);
  for (const r of REPORT_LINKS) {
    const p = paths.find(r.match);
    if (p && links.length < 5) links.push({ title: r.title, url: e.run.artifact_urls[p]! });
  }
  return links;
}

export function buildTeamsMessage(e: NotificationEvent): Record<string, unknown> {
  const s = e.summary;
  const failedGates = s.verdict.failed_gates;
  const facts = [
    { title: 'Status', value: statusLabel(e) },
    { title: 'Run Score', value: `${s.score.value} (threshold ${s.score.threshold})` },
    { title: 'Failed gates', value: failedGates.length ? failedGates.join(', ') : 'none' },
    { title: 'Duration', value: formatMs(e.run.duration_ms) },
    { title: 'Initiator', value: e.run.initiator },
    { title: 'Kind', value: e.run.kind === 'rollback' ? 'rollback' : s.run.dry_run ? 'dry run' : 'deploy' },
    { title: 'Branch/tag', value: s.run.branch_or_tag },
  ];
  if (s.verdict.failure) facts.push({ title: 'Failure', value: clip(`${s.verdict.failure.kind}: ${s.verdict.failure.message}`, 500) });
  const body: Array<Record<string, unknown>> = [
    { type: 'TextBlock', size: 'Large', weight: 'Bolder', wrap: true, color: COLOR[e.run.status] ?? 'Default', text: `${e.run.app} → ${e.run.env}: ${statusLabel(e)}` },
    { type: 'TextBlock', isSubtle: true, spacing: 'None', wrap: true, text: `Run ${e.run.run_id}` },
    { type: 'FactSet', facts },
  ];
  if (s.rollback_failed) {
    body.push({ type: 'TextBlock', wrap: true, weight: 'Bolder', color: 'Attention', text: 'The automatic rollback failed: DevTest may be down. Restore the backup by hand (docs/Runbook.md).' });
  }
  if (e.run.reason) body.push({ type: 'TextBlock', wrap: true, text: clip(e.run.reason) });
  if (s.verdict.failure) body.push({ type: 'TextBlock', wrap: true, isSubtle: true, text: `Next step: ${s.verdict.failure.next_step}` });
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body,
          actions: reportLinks(e).map((l) => ({ type: 'Action.OpenUrl', title: l.title, url: l.url })),
        },
      },
    ],
  };
}

/** Applies `mask` to every string in a JSON-like value. */
export function maskDeep<T>(v: T, mask: (s: string) => string): T {
  if (typeof v === 'string') return mask(v) as T;
  if (Array.isArray(v)) return v.map((x) => maskDeep(x, mask)) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskDeep(x, mask)])) as T;
  return v;
}
