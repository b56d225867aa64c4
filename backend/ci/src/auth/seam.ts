/**
 * The real implementation of the routes' AuthSeam (api/auth_seam.ts), backed
 * by authPlugin. app.ts uses `createAuthSeam({db, redactor})` after registering authPlugin, in every AUTH_MODE (with AUTH_MODE=none the
 * plugin makes every request the local admin, and still records the audit trail).
 */
import type { Kysely } from 'kysely';
import type { AuthSeam } from '../api/auth_seam.js';
import type { Redactor } from '../ci/redact.js';
import { AUDIT_ACTIONS, type AuditAction, auditFromRequest, recordAudit } from './audit.js';
import { requireRole, verifyWsRequest } from './plugin.js';

export function createAuthSeam(deps: { db: Kysely<any>; redactor: Redactor }): AuthSeam {
  return {
    requireRole,
    principal: (request) => request.principal,
    verifyWs: verifyWsRequest,
    audit: async (request, action, target, details) => {
      if (!(AUDIT_ACTIONS as readonly string[]).includes(action)) throw new Error(`audit: unknown action "${action}"; use one of ${AUDIT_ACTIONS.join(', ')}`);
      await recordAudit(deps.db, auditFromRequest(request, action as AuditAction, target, details), deps.redactor);
    },
  };
}
