/**
 * The run folder's files: their SHA-256 and size (streamed, so a 500 MB zip
 * costs one 64 KiB buffer), and the secret scan that masks known secrets and
 * secret-shaped strings in place before anything is stored or served.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { Redactor } from '../redact.js';
import { sniffEncoding, type TextEncoding } from './text.js';
import type { ArtifactEntry, SecretFinding } from './types.js';

/** Every file under `dir`, as sorted POSIX paths relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push(r);
    }
  }
  await walk('');
  return out.sort();
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function checksumAll(dir: string, files: string[]): Promise<ArtifactEntry[]> {
  const out: ArtifactEntry[] = [];
  for (const rel of files) {
    const abs = path.join(dir, rel);
    const [s, sha256] = await Promise.all([stat(abs), sha256File(abs)]);
    out.push({ name: path.posix.basename(rel), path: rel, bytes: s.size, sha256 });
  }
  return out;
}

const BINARY_EXT = new Set(['.zip', '.7z', '.gz', '.png', '.jpg', '.jpeg', '.gif', '.webp', '.pdf', '.dll', '.exe', '.pdb', '.nupkg', '.webm', '.mp4', '.ico', '.woff', '.woff2']);

/**
 * The encoding of a text file, or null for a binary one: binary when its
 * extension says so or its first 8 KiB hold a NUL byte, except that UTF-16LE
 * with a BOM (Windows PowerShell 5.1's default) is text full of NULs.
 */
export async function textEncodingOf(file: string): Promise<TextEncoding | null> {
  if (BINARY_EXT.has(path.extname(file).toLowerCase())) return null;
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(8192);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    if (sniffEncoding(head) === 'utf16le') return 'utf16le';
    return head.includes(0) ? null : 'utf8';
  } finally {
    await fh.close();
  }
}

const BLOCK = 256 * 1024;

/**
 * Redacts one text file in blocks of about 256 KiB cut at line ends (so a
 * multi-line private key inside a block is caught whole), writing a sibling
 * temp file that replaces the original only if something was masked.
 */
export async function maskFileInPlace(file: string, redactor: Redactor, encoding: TextEncoding = 'utf8'): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const tmp = `${file}.redact-${process.pid}.tmp`;
  // The BOM, if any, is the first decoded character and is written back as it was.
  const out = createWriteStream(tmp, { encoding });
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  let carry = '';
  const flush = async (text: string) => {
    const r = redactor.redact(text);
    for (const f of r.findings) counts.set(f.kind, (counts.get(f.kind) ?? 0) + f.count);
    await write(r.text);
  };
  try {
    for await (const chunk of createReadStream(file, { encoding, highWaterMark: BLOCK }) as AsyncIterable<string>) {
      const text = carry + chunk;
      const cut = text.lastIndexOf('\n');
      if (cut < 0 && text.length < 4 * BLOCK) {
        carry = text; // keep a long line together, up to a bound
        continue;
      }
      const end = cut < 0 ? text.length : cut + 1;
      await flush(text.slice(0, end));
      carry = text.slice(end);
    }
    if (carry) await flush(carry);
    out.end();
    await once(out, 'finish');
  } catch (e) {
    out.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
  if (counts.size) await rename(tmp, file);
  else await rm(tmp, { force: true });
  return counts;
}

/** Scans every text file in `files`; returns findings per file (kind and count, never the value). */
export async function scanAndMask(dir: string, files: string[], redactor: Redactor): Promise<{ findings: SecretFinding[]; masked_files: string[] }> {
  const findings: SecretFinding[] = [];
  const masked: string[] = [];
  for (const rel of files) {
    const abs = path.join(dir, rel);
    const encoding = await textEncodingOf(abs);
    if (!encoding) continue;
    const counts = await maskFileInPlace(abs, redactor, encoding);
    if (counts.size) masked.push(rel);
    for (const [kind, count] of counts) findings.push({ where: rel, kind, count });
  }
  return { findings, masked_files: masked };
}
