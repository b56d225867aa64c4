/**
 * Who is calling (DESIGN §6) and the tables the auth modules read. Roles are
 * ordered: a deployer can do what a viewer can, an admin what a deployer can.
 */
import type { Kysely } from 'kysely';

export const ROLES = ['viewer', 'deployer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** Stable id: `token:<id>`, `jwt:<sub>` or `local`. */
  id: string;
  name: string;
  role: Role;
  via: 'none' | 'token' | 'jwt' | 'session';
}

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);

/** True when `has` grants at least what `needs` asks for. */
export function roleAtLeast(has: Role, needs: Role): boolean {
  return ROLES.indexOf(has) >= ROLES.indexOf(needs);
}

/** AUTH_MODE=none: every request is this local admin (sandbox on loopback only). */
export const LOCAL_ADMIN: Principal = Object.freeze({ id: 'local', name: 'local', role: 'admin', via: 'none' });

export interface ApiTokensTable {
  id: string;
  name: string;
  role: string;
  token_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}
export interface SessionsTable {
  id: string;
  principal: string;
  name: string;
  role: string;
  via: string;
  token_id: string | null;
  csrf_hash: string;
  created_at: string;
  expires_at: string;
}
export interface WsTicketsTable {
  id: string;
  principal: string;
  name: string;
  role: string;
  via: string;
  expires_at: string;
}
export interface AuditEventsTable {
  id: string;
  at: string;
  actor: string;
  role: string | null;
  action: string;
  target: string | null;
  source_ip: string | null;
  user_agent: string | null;
  details: string;
}
export interface AuthDatabase {
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  ws_tickets: WsTicketsTable;
  audit_events: AuditEventsTable;
}

/** The app's Kysely instance, seen through the auth tables only. */
export const authDb = (db: Kysely<any>): Kysely<AuthDatabase> => db as Kysely<AuthDatabase>;
