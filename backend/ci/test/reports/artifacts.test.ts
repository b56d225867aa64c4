/** The secret scan and the encodings Windows tools write (real files on disk). */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregate } from '../../src/ci/report_aggregator.js';
import { maskFileInPlace, scanAndMask, textEncodingOf } from '../../src/ci/reports/artifacts.js';
import { createRedactor } from '../../src/ci/redact.js';
import { input, makeRunDir } from './helpers.js';

const SECRET = 'fake-smb-password-example';
const redactor = createRedactor([SECRET]);
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'qa-art-'));
/** What Windows PowerShell 5.1's Out-File writes by default: UTF-16LE with a BOM. */
const utf16 = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);

describe('secret scan', () => {
  it('masks a secret in a UTF-16LE log (Windows PowerShell 5.1 Out-File) and keeps the encoding', async () => {
    const dir = tmp();
    const f = path.join(dir, 'deploy.log');
    writeFileSync(f, utf16(`[deploy] robocopy /user:svc-devtest ${SECRET}\r\n[deploy] done\r\n`));
    expect(await textEncodingOf(f)).toBe('utf16le');
    const r = await scanAndMask(dir, ['deploy.log'], redactor);
    expect(r.findings).toEqual([{ where: 'deploy.log', kind: 'configured_secret', count: 1 }]);
    const bytes = readFileSync(f);
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    expect(bytes.subarray(2).toString('utf16le')).toBe('[deploy] robocopy /user:svc-devtest ****\r\n[deploy] done\r\n');
  });

  it('finds secrets on both sides of its 256 KiB blocks and a multi-line private key', async () => {
    const dir = tmp();
    const f = path.join(dir, 'big.log');
    const filler = `${'[build] compiling WeSign.UserApi ...'.padEnd(99, '.')}\n`; // 100 bytes a line
    const lines: string[] = [];
    // Secrets on the lines around the 256 KiB (line 2621) and 512 KiB (line 5242) block ends.
    const secretLines = new Set([2620, 2621, 2622, 5242]);
    for (let i = 0; i < 8000; i++) lines.push(secretLines.has(i) ? `[deploy] password=${SECRET}\n` : filler);
    lines.splice(4000, 0, '-----BEGIN RSA PRIVATE KEY-----\nMIIEfakeEXAMPLEkeyMaterialNotReal0123456789\nabcdefFAKEexample\n-----END RSA PRIVATE KEY-----\n'); // inside a block
    writeFileSync(f, lines.join(''));
    const counts = await maskFileInPlace(f, redactor);
    const text = readFileSync(f, 'utf8');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('MIIEfakeEXAMPLEkeyMaterialNotReal');
    expect(counts.get('private_key')).toBe(1);
    expect((counts.get('configured_secret') ?? 0) + (counts.get('password_assignment') ?? 0)).toBe(4);
  });

  it('does not open binary files', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'WeSign.DevTest.zip'), Buffer.from(`PK\u0003\u0004${SECRET}`, 'latin1'));
    writeFileSync(path.join(dir, 'blob.bin'), Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(SECRET)]));
    expect(await textEncodingOf(path.join(dir, 'WeSign.DevTest.zip'))).toBeNull();
    expect(await textEncodingOf(path.join(dir, 'blob.bin'))).toBeNull();
    expect((await scanAndMask(dir, ['WeSign.DevTest.zip', 'blob.bin'], redactor)).findings).toEqual([]);
  });
});

describe('inputs written by Windows PowerShell 5.1', () => {
  it('reads UTF-16LE preflight.json and smoke.json, and classifies from a UTF-16LE deploy.log', async () => {
    const dir = makeRunDir();
    for (const name of ['preflight.json', 'smoke.json']) writeFileSync(path.join(dir, name), utf16(readFileSync(path.join(dir, name), 'utf8')));
    const ok = await aggregate(input(dir));
    expect(ok.gates.filter((g) => !g.passed)).toEqual([]);

    writeFileSync(path.join(dir, 'deploy.log'), utf16("[deploy] Copy-Item : The process cannot access the file 'C:\\inetpub\\WeSign\\UserApi\\WeSign.dll' because it is being used by another process.\r\n"));
    const s = await aggregate(input(dir, { run: { ci_result: 'FAILURE' } }));
    expect(s.verdict.failure?.kind).toBe('locked_files');
    expect(s.verdict.failure?.evidence[0]).toContain('being used by another process');
  });
});
