import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, hashToken, listTokens, revokeToken, TOKEN_SHAPE, verifyApiToken } from '../../src/auth/tokens.js';
import { main } from '../../src/cli/tokens.js';
import { openDatabase } from '../../src/store/db.js';
import { cookiesOf, cookieHeader, FAKE_SESSION_SECRET, type Harness, json, openAuthDb, startHarness } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const backendDir = path.resolve(here, '..', '..');

/** Every byte SQLite wrote for this database (main file, WAL and shared memory). */
function dbBytes(file: string): Buffer {
  const dir = path.dirname(file);
  return Buffer.concat(readdirSync(dir).filter((f) => f.startsWith(path.basename(file))).map((f) => readFileSync(path.join(dir, f))));
}

describe('API tokens', () => {
  let dir: string;
  let handle: Awaited<ReturnType<typeof openAuthDb>>;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'qa-tokens-'));
    handle = await openAuthDb(dir);
  });
  afterAll(async () => {
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a qaci_ token of 32 random bytes, verifies it, and revokes it', async () => {
    const t = await createToken(handle.db, { name: 'alice', role: 'deployer' });
    expect(t.token).toMatch(TOKEN_SHAPE);
    expect(Buffer.from(t.token.slice(5), 'base64url')).toHaveLength(32);
    expect(t).toMatchObject({ name: 'alice', role: 'deployer', revoked_at: null });
    const ok = await verifyApiToken(handle.db, t.token);
    expect(ok).toMatchObject({ id: t.id, name: 'alice', role: 'deployer' });
    expect(ok?.last_used_at).toBeNull(); // the value read before this use
    expect((await listTokens(handle.db)).find((r) => r.id === t.id)?.last_used_at).not.toBeNull();
    expect(await revokeToken(handle.db, t.id)).toBe(true);
    expect(await verifyApiToken(handle.db, t.token)).toBeNull();
    expect((await listTokens(handle.db)).find((r) => r.id === t.id)?.revoked_at).not.toBeNull();
    expect(await revokeToken(handle.db, 'tok_doesnotexist')).toBe(false);
  });

  it('never verifies a near miss: one changed character, a wrong prefix, or a bare hash', async () => {
    const t = await createToken(handle.db, { name: 'bob', role: 'viewer' });
    const last = t.token.at(-1) === 'A' ? 'B' : 'A';
    expect(await verifyApiToken(handle.db, t.token.slice(0, -1) + last)).toBeNull();
    expect(await verifyApiToken(handle.db, `qacx_${t.token.slice(5)}`)).toBeNull();
    expect(await verifyApiToken(handle.db, hashToken(t.token))).toBeNull();
    expect(await verifyApiToken(handle.db, '')).toBeNull();
  });

  it('rejects a bad name or role with a message saying what is allowed', async () => {
    await expect(createToken(handle.db, { name: '', role: 'viewer' })).rejects.toThrow(/--name must be 1–64 characters/);
    await expect(createToken(handle.db, { name: "x'; DROP TABLE api_tokens;--", role: 'viewer' })).rejects.toThrow(/--name/);
    await expect(createToken(handle.db, { name: 'carol', role: 'root' })).rejects.toThrow(/--role must be one of viewer, deployer, admin; got "root"/);
  });

  it('stores only the hash: the token never appears in the SQLite files', async () => {
    const t = await createToken(handle.db, { name: 'dora', role: 'admin' });
    await verifyApiToken(handle.db, t.token);
    const bytes = dbBytes(handle.file);
    expect(bytes.includes(Buffer.from(hashToken(t.token)))).toBe(true); // sanity: we are reading the right files
    expect(bytes.includes(Buffer.from(t.token))).toBe(false);
    expect(bytes.includes(Buffer.from(t.token.slice(5)))).toBe(false);
  });
});

describe('sessions and tickets store only hashes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AUTH_MODE: 'token', SESSION_SECRET: FAKE_SESSION_SECRET });
  });
  afterAll(async () => h.close());

  it('keeps no session cookie, CSRF token or WS ticket in the DB file', async () => {
    const t = await createToken(h.db, { name: 'erin', role: 'viewer' });
    const login = await fetch(`${h.url}/ci/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: t.token }) });
    expect(login.status).toBe(200);
    const { jar } = cookiesOf(login);
    const ticketRes = await fetch(`${h.url}/ci/auth/ws-ticket`, { method: 'POST', headers: { cookie: cookieHeader(jar), 'x-csrf-token': jar.qa_csrf! } });
    expect(ticketRes.status).toBe(200);
    const { ticket } = await json(ticketRes);
    const bytes = dbBytes(h.dbFile);
    for (const secret of [t.token, jar.qa_session!, jar.qa_csrf!, ticket as string, FAKE_SESSION_SECRET]) expect(bytes.includes(Buffer.from(secret))).toBe(false);
  });
});

describe('tokens CLI (npx tsx backend/ci/src/cli/tokens.ts)', () => {
  let dir: string;
  let env: Record<string, string | undefined>;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'qa-cli-'));
    env = { ...process.env, DATABASE_URL: path.join(dir, 'cli.sqlite') };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** The real entry point, as an operator runs it (one process: tsx start-up is slow on a shared machine). */
  const spawnCli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(backendDir, 'src', 'cli', 'tokens.ts'), ...args], { env, encoding: 'utf8', timeout: 90_000 });
  /** The same main(), in-process, with its output captured. */
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const status = await main(args, env, (s) => out.push(s), (s) => err.push(s));
    return { status, stdout: out.join('\n'), stderr: err.join('\n') };
  };

  it('creates (printing the token once), lists without the token, and revokes, auditing both', async () => {
    const created = spawnCli('create', '--name', 'ci-bot', '--role', 'deployer');
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    const token = created.stdout.split('\n').find((l) => TOKEN_SHAPE.test(l.trim()))?.trim();
    expect(token).toBeDefined();
    const id = /Created (tok_[0-9a-f]{12})/.exec(created.stdout)?.[1];
    expect(id).toBeDefined();

    const listed = await cli('list');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('ci-bot');
    expect(listed.stdout).not.toContain(token);

    const revoked = await cli('revoke', id!);
    expect(revoked.status).toBe(0);
    expect((await cli('revoke', 'tok_000000000000')).status).toBe(1);

    const opened = await openDatabase(path.join(dir, 'cli.sqlite'));
    try {
      expect(await verifyApiToken(opened.db, token!)).toBeNull();
      const audit = await opened.db.selectFrom('audit_events' as never).selectAll().orderBy('at' as never).execute();
      expect(audit.map((a: any) => a.action)).toEqual(['token.create', 'token.revoke']);
      expect(JSON.stringify(audit)).not.toContain(token);
    } finally {
      await opened.close();
    }
    expect(dbBytes(path.join(dir, 'cli.sqlite')).includes(Buffer.from(token!))).toBe(false);
  });

  it('answers bad usage with exit code 2 and the usage text', async () => {
    const r = await cli('create', '--name', 'x');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/create needs --name and --role/);
    const bad = await cli('create', '--name', 'x', '--role', 'superuser');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--role must be one of viewer, deployer, admin/);
    expect((await cli('frobnicate')).status).toBe(2);
    expect((await cli('revoke')).status).toBe(2);
  });
});
