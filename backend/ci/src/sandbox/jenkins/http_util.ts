/** Small HTTP helpers of the sandbox Jenkins (paths, comparison, content types, form parsing). */
import { timingSafeEqual } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';

export function jobPathOnly(name: string): string {
  return `job/${name.split('/').map(encodeURIComponent).join('/job/')}/`;
}

export function encodePath(rel: string): string {
  return rel.split('/').map(encodeURIComponent).join('/');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, prefix), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(dir, rel));
    else out.push(rel);
  }
  return out;
}

export function contentTypeOf(file: string): string {
  const ext = path.extname(file).toLowerCase();
  const types: Record<string, string> = {
    '.json': 'application/json;charset=utf-8',
    '.html': 'text/html;charset=utf-8',
    '.xml': 'application/xml;charset=utf-8',
    '.trx': 'application/octet-stream',
    '.log': 'text/plain;charset=utf-8',
    '.txt': 'text/plain;charset=utf-8',
    '.zip': 'application/zip',
  };
  return types[ext] ?? 'application/octet-stream';
}

/** Just enough multipart/form-data for text fields (node-jenkins posts forms this way). */
export function parseMultipart(type: string, body: Buffer): URLSearchParams {
  const out = new URLSearchParams();
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
  if (!boundary) return out;
  const sep = `--${boundary[1] ?? boundary[2]}`;
  for (const part of body.toString('utf8').split(sep)) {
    const m = /Content-Disposition:\s*form-data;\s*name="([^"]+)"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n([\s\S]*?)\r?\n?$/i.exec(part.replace(/^\r?\n/, ''));
    if (m) out.append(m[1]!, m[2]!.replace(/\r?\n$/, ''));
  }
  return out;
}
