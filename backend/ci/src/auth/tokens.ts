/**
 * API tokens (DESIGN §6): `qaci_` + 32 random bytes (base64url). Only the
 * SHA-256 of a token is stored; the token is returned once, at creation, and
 * can never be read back. Revoking a token also ends the browser sessions
 * that were opened with it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { authDb, isRole, ROLES, type Role } from './principal.js';

export const TOKEN_PREFIX = 'qaci_';
/** The exact shape of a token; anything else is rejected before any lookup. */
export const TOKEN_SHAPE = /^qaci_[A-Za-z0-9_-]{43}$/;
const NAME_SHAPE = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/;
/** last_used_at is refreshed at most this often, so reads don't turn into writes. */
const LAST_USED_RESOLUTION_MS = 60_000;

export class TokenInputError extends Error {
  override name = 'TokenInputError';
}

export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export function tokenNameProblem(name: string): string | null {
  return NAME_SHAPE.test(name) ? null : 'must be 1–64 characters: letters, digits, space and . _ @ -, starting with a letter or digit';
}

/** Creates a token. The returned `token` is the only copy there will ever be. */
export async function createToken(db: Kysely<any>, input: { name: string; role: string }, now = new Date()): Promise<TokenInfo & { token: string }> {
  const nameProblem = tokenNameProblem(input.name);
  if (nameProblem) throw new TokenInputError(`--name ${nameProblem}.`);
  if (!isRole(input.role)) throw new TokenInputError(`--role must be one of ${ROLES.join(', ')}; got "${input.role}".`);
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const row = {
    id: `tok_${randomBytes(6).toString('hex')}`,
    name: input.name,
    role: input.role,
    token_hash: hashToken(token),
    created_at: now.toISOString(),
    last_used_at: null,
    revoked_at: null,
  };
  await authDb(db).insertInto('api_tokens').values(row).execute();
  const { token_hash: _hash, ...info } = row;
  return { ...info, role: input.role, token };
}

export async function listTokens(db: Kysely<any>): Promise<TokenInfo[]> {
  const rows = await authDb(db)
    .selectFrom('api_tokens')
    .select(['id', 'name', 'role', 'created_at', 'last_used_at', 'revoked_at'])
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ ...r, role: isRole(r.role) ? r.role : 'viewer' }));
}

/** Revokes a token and ends its sessions. Returns false when no such token exists. */
export async function revokeToken(db: Kysely<any>, id: string, now = new Date()): Promise<boolean> {
  const adb = authDb(db);
  const existing = await adb.selectFrom('api_tokens').select(['id', 'revoked_at']).where('id', '=', id).executeTakeFirst();
  if (!existing) return false;
  if (!existing.revoked_at) await adb.updateTable('api_tokens').set({ revoked_at: now.toISOString() }).where('id', '=', id).execute();
  await adb.deleteFrom('sessions').where('token_id', '=', id).execute();
  return true;
}

/** The token's owner if `token` is a live (not revoked) token, else null. */
export async function verifyApiToken(db: Kysely<any>, token: string, now = new Date()): Promise<TokenInfo | null> {
  if (!TOKEN_SHAPE.test(token)) return null;
  const adb = authDb(db);
  // Looking up by hash: the DB never sees the token, and timing reveals nothing about it.
  const row = await adb
    .selectFrom('api_tokens')
    .select(['id', 'name', 'role', 'created_at', 'last_used_at', 'revoked_at'])
    .where('token_hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!row || row.revoked_at || !isRole(row.role)) return null;
  if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) > LAST_USED_RESOLUTION_MS) {
    await adb.updateTable('api_tokens').set({ last_used_at: now.toISOString() }).where('id', '=', row.id).execute();
  }
  return { ...row, role: row.role };
}
