/**
 * API token administration (DESIGN §6), run on the backend's machine:
 *
 *   npx tsx backend/ci/src/cli/tokens.ts create --name alice --role deployer
 *   npx tsx backend/ci/src/cli/tokens.ts list
 *   npx tsx backend/ci/src/cli/tokens.ts revoke tok_0123456789ab
 *
 * Uses the service's database (DATABASE_URL from the environment or
 * backend/ci/.env; a relative SQLite path is taken relative to backend/ci,
 * where `npm start` runs the service). `create` prints the token once: it
 * is stored only as a SHA-256 hash and cannot be shown again.
 * Exit codes: 0 done, 1 failed, 2 bad usage.
 */
import { userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { recordAudit } from '../auth/audit.js';
import { createToken, listTokens, revokeToken, TokenInputError } from '../auth/tokens.js';
import { readDotEnv } from '../config.js';
import { createRedactor } from '../ci/redact.js';
import { isPostgresUrl, migrateToLatest, openDatabase } from '../store/db.js';

const WORKSPACE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const USAGE = `Usage:
  tokens create --name <who> --role <viewer|deployer|admin>   prints the new token once
  tokens list                                                id, name, role, created, last used, revoked
  tokens revoke <id>                                         the token stops working at once; its sessions end`;

/** The one place the CLI opens the database: the same factory and migrations as the service. */
async function openServiceDatabase(env: Record<string, string | undefined>): Promise<{ db: Kysely<any>; close(): Promise<void>; where: string }> {
  const raw = env.DATABASE_URL || 'data/ci.sqlite';
  const url = isPostgresUrl(raw) || raw === ':memory:' || path.isAbsolute(raw.replace(/^sqlite:(\/\/)?/i, '')) ? raw : path.resolve(WORKSPACE_DIR, raw.replace(/^sqlite:(\/\/)?/i, ''));
  const opened = await openDatabase(url);
  await migrateToLatest(opened.db);
  const tables = await opened.db.introspection.getTables();
  if (!tables.some((t) => t.name === 'api_tokens')) {
    await opened.close();
    throw new Error('the database has no api_tokens table after migrating: migration 002_auth is not listed in backend/ci/src/store/migrations/index.ts');
  }
  return { db: opened.db, close: opened.close, where: createRedactor().mask(url) };
}

function parseFlags(args: string[]): { flags: Record<string, string>; positional: string[] } {
  const flags: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else {
        const v = args[i + 1];
        if (v === undefined || v.startsWith('--')) throw new TokenInputError(`${a} needs a value.`);
        flags[a.slice(2)] = v;
        i++;
      }
    } else positional.push(a);
  }
  return { flags, positional };
}

export async function main(argv: string[], env: Record<string, string | undefined>, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return command ? 0 : 2;
  }
  if (!['create', 'list', 'revoke'].includes(command)) {
    err(`Unknown command "${command}".\n${USAGE}`);
    return 2;
  }
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(rest);
  } catch (e) {
    err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { flags, positional } = parsed;
  const actor = `cli:${safeUser()}`;

  if (command === 'create' && (!flags.name || !flags.role || positional.length)) {
    err(`create needs --name and --role (and nothing else).\n${USAGE}`);
    return 2;
  }
  if (command === 'revoke' && positional.length !== 1) {
    err(`revoke needs exactly one token id (see: tokens list).\n${USAGE}`);
    return 2;
  }

  const { db, close, where } = await openServiceDatabase(env);
  try {
    if (command === 'create') {
      let created: Awaited<ReturnType<typeof createToken>>;
      try {
        created = await createToken(db, { name: flags.name as string, role: flags.role as string });
      } catch (e) {
        if (e instanceof TokenInputError) {
          err(e.message);
          return 2;
        }
        throw e;
      }
      await recordAudit(db, { actor, role: 'admin', action: 'token.create', target: created.id, details: { name: created.name, role: created.role } });
      out(`Created ${created.id} for ${created.name} (${created.role}) in ${where}.`);
      out('Token (shown only now; store it in a password manager or a CI secret):');
      out(created.token);
      return 0;
    }
    if (command === 'list') {
      const rows = await listTokens(db);
      if (!rows.length) {
        out(`No tokens in ${where}. Create one with: tokens create --name <who> --role <viewer|deployer|admin>`);
        return 0;
      }
      const table = [['ID', 'NAME', 'ROLE', 'CREATED', 'LAST USED', 'REVOKED'], ...rows.map((r) => [r.id, r.name, r.role, r.created_at, r.last_used_at ?? '-', r.revoked_at ?? '-'])];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      for (const row of table) out(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
      return 0;
    }
    const id = positional[0] as string;
    if (!(await revokeToken(db, id))) {
      err(`No token with id "${id}"; run: tokens list`);
      return 1;
    }
    await recordAudit(db, { actor, role: 'admin', action: 'token.revoke', target: id });
    out(`Revoked ${id}; it no longer authenticates and its browser sessions have ended.`);
    return 0;
  } finally {
    await close();
  }
}

function safeUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const env = { ...readDotEnv(path.join(WORKSPACE_DIR, '.env')), ...process.env };
  main(process.argv.slice(2), env, (s) => process.stdout.write(`${s}\n`), (s) => process.stderr.write(`${s}\n`)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      // The database URL may carry a password: the message goes through the redactor.
      process.stderr.write(`tokens: ${createRedactor(env.DATABASE_URL ? [env.DATABASE_URL] : []).mask(e instanceof Error ? e.message : String(e))}\n`);
      process.exit(1);
    },
  );
}
