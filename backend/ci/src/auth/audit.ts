/**
 * The audit trail (DESIGN §6): who started, cancelled and rolled back what,
 * when and from where; token changes and sign-ins. Rows are append-only and
 * independent of `runs`, so pruning runs keeps them.
 *
 * Free text (user agent, details) passes the redactor before it is stored,
 * and is size-bounded, so a hostile client cannot plant a secret or a
 * megabyte in the table.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { AppError } from '../ci/errors.js';
import type { Redactor } from '../ci/redact.js';
import { authDb } from './principal.js';

export const AUDIT_ACTIONS = ['run.start', 'run.cancel', 'run.rollback', 'token.create', 'token.revoke', 'auth.login', 'auth.failed'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEventInput {
  actor: string;
  role?: string | null;
  action: AuditAction;
  /** Run id, environment (`WeSign/DevTest`), token id… */
  target?: string | null;
  source_ip?: string | null;
  user_agent?: string | null;
  details?: Record<string, unknown>;
  at?: Date;
}

export interface AuditEvent {
  id: string;
  at: string;
  actor: string;
  role: string | null;
  action: AuditAction;
  target: string | null;
  source_ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

const MAX_DETAILS_CHARS = 4096;
const MAX_TEXT_CHARS = 256;

const clip = (s: string | null | undefined, max = MAX_TEXT_CHARS): string | null => (s == null ? null : s.length > max ? `${s.slice(0, max)}…` : s);

export async function recordAudit(db: Kysely<any>, event: AuditEventInput, redactor?: Redactor): Promise<AuditEvent> {
  if (!(AUDIT_ACTIONS as readonly string[]).includes(event.action)) throw new Error(`recordAudit: unknown action ${event.action}`);
  const mask = (s: string | null) => (s != null && redactor ? redactor.mask(s) : s);
  let details = JSON.stringify(event.details ?? {});
  if (details.length > MAX_DETAILS_CHARS) details = JSON.stringify({ truncated: true, preview: details.slice(0, MAX_DETAILS_CHARS - 64) });
  details = mask(details) ?? '{}';
  const row = {
    id: randomUUID(),
    at: (event.at ?? new Date()).toISOString(),
    actor: mask(clip(event.actor)) ?? 'unknown',
    role: clip(event.role ?? null, 32),
    action: event.action,
    target: mask(clip(event.target ?? null)),
    source_ip: clip(event.source_ip ?? null, 64),
    user_agent: mask(clip(event.user_agent ?? null)),
    details,
  };
  await authDb(db).insertInto('audit_events').values(row).execute();
  return { ...row, details: JSON.parse(row.details) as Record<string, unknown> };
}

/**
 * The audit fields the request supplies: actor and role from `request.principal`
 * (set by authPlugin), address and user agent from the request. The lead's run
 * routes call: `recordAudit(db, auditFromRequest(req, 'run.start', runId, {...}), redactor)`.
 */
export function auditFromRequest(request: FastifyRequest, action: AuditAction, target?: string | null, details?: Record<string, unknown>): AuditEventInput {
  const p = request.principal;
  const ua = request.headers['user-agent'];
  return {
    actor: p ? p.name === p.id ? p.id : `${p.name} (${p.id})` : 'anonymous',
    role: p?.role ?? null,
    action,
    target: target ?? null,
    source_ip: request.ip,
    user_agent: typeof ua === 'string' ? ua : null,
    ...(details ? { details } : {}),
  };
}

export interface AuditFilters {
  actor?: string;
  action?: string;
  target?: string;
  /** ISO-8601 bounds, inclusive. */
  since?: string;
  until?: string;
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
}

const isoOrThrow = (name: string, v: string): string => {
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) throw new AppError(422, 'invalid_input', `${name} must be an ISO-8601 date or time such as 2026-12-04 or 2026-12-04T10:00:00Z.`, { field: name });
  return new Date(t).toISOString();
};

/** Newest first, cursor-paginated. Bad filters are 422s that say what to send. */
export async function listAudit(db: Kysely<any>, filters: AuditFilters = {}): Promise<{ events: AuditEvent[]; next_cursor: string | null }> {
  const limit = filters.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new AppError(422, 'invalid_input', 'limit must be a whole number from 1 to 200.', { field: 'limit' });
  if (filters.action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(filters.action)) {
    throw new AppError(422, 'invalid_input', `action must be one of ${AUDIT_ACTIONS.join(', ')}.`, { field: 'action' });
  }
  for (const k of ['actor', 'target'] as const) {
    const v = filters[k];
    if (v !== undefined && (v.length === 0 || v.length > MAX_TEXT_CHARS)) throw new AppError(422, 'invalid_input', `${k} must be 1–${MAX_TEXT_CHARS} characters.`, { field: k });
  }
  let q = authDb(db).selectFrom('audit_events').selectAll();
  if (filters.actor) q = q.where('actor', '=', filters.actor);
  if (filters.action) q = q.where('action', '=', filters.action);
  if (filters.target) q = q.where('target', '=', filters.target);
  if (filters.since) q = q.where('at', '>=', isoOrThrow('since', filters.since));
  if (filters.until) q = q.where('at', '<=', isoOrThrow('until', filters.until));
  if (filters.cursor) {
    let c: { at?: unknown; id?: unknown };
    try {
      c = JSON.parse(Buffer.from(filters.cursor, 'base64url').toString('utf8')) as typeof c;
    } catch {
      c = {};
    }
    if (typeof c.at !== 'string' || typeof c.id !== 'string') throw new AppError(422, 'invalid_input', 'cursor is not one this API issued; pass next_cursor from the previous page unchanged.', { field: 'cursor' });
    const { at, id } = c as { at: string; id: string };
    q = q.where((eb) => eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', id)])]));
  }
  const rows = await q.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    events: page.map((r) => ({ ...r, action: r.action as AuditAction, details: safeJson(r.details) })),
    next_cursor: rows.length > limit && last ? Buffer.from(JSON.stringify({ at: last.at, id: last.id })).toString('base64url') : null,
  };
}

function safeJson(s: string): Record<string, unknown> {
  try {
    const v = JSON.parse(s) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { unparsed: true };
  }
}
