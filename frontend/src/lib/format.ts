/** Human formats for durations, instants and statuses. */
import type { RunStatus, StageStatus } from '../api/types.js';

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.round(h / 24)}d`;
}

export function formatInstant(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}

export function formatClock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const diff = Math.max(0, now - t);
  if (diff < 60_000) return 'just now';
  return `${formatDuration(diff).split(' ')[0]} ago`;
}

export function formatPercent(x: number | null | undefined, digits = 0): string {
  return x === null || x === undefined ? '—' : `${(x * 100).toFixed(digits)}%`;
}

export function formatScore(x: number | null | undefined): string {
  return x === null || x === undefined ? '—' : x.toFixed(x % 1 === 0 ? 0 : 1);
}

export const RUN_STATUS_LABEL: Record<RunStatus, string> = {
  queued: 'Queued',
  running: 'Running',
  success: 'Succeeded',
  failed: 'Failed',
  rolled_back: 'Rolled back',
  cancelled: 'Cancelled',
  error: 'Infrastructure error',
};

export const STAGE_STATUS_LABEL: Record<StageStatus, string> = {
  pending: 'pending',
  running: 'running',
  success: 'success',
  failure: 'failure',
  skipped: 'skipped',
  rolled_back: 'rolled back',
  cancelled: 'cancelled',
};

/** A glyph beside each status so state is never conveyed by colour alone. */
export const STATUS_GLYPH: Record<RunStatus | StageStatus, string> = {
  queued: '◷',
  pending: '○',
  running: '◐',
  success: '✓',
  failed: '✕',
  failure: '✕',
  skipped: '⤼',
  rolled_back: '↩',
  cancelled: '⊘',
  error: '!',
};
