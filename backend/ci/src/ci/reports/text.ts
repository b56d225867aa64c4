/**
 * Text encodings the pipeline's files arrive in. Windows PowerShell 5.1 writes
 * UTF-16LE with a BOM by default (`Out-File`, `>`), and UTF-8 with a BOM when
 * asked for UTF8; Python and Node write UTF-8. The BOM decides.
 */
export type TextEncoding = 'utf8' | 'utf16le';

/** The encoding a file's first bytes announce (UTF-8 when there is no BOM). */
export function sniffEncoding(head: Uint8Array): TextEncoding {
  return head.length >= 2 && head[0] === 0xff && head[1] === 0xfe ? 'utf16le' : 'utf8';
}

/** Decodes a whole buffer, dropping the BOM. */
export function decodeText(buf: Buffer): string {
  const text = buf.toString(sniffEncoding(buf));
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
