/**
 * A build's console log, as bytes, the way Jenkins stores it (FileLogStorage).
 * With console notes on, `[Pipeline]` lines are preceded by an encoded
 * ConsoleNote `ESC[8mha:<base64>ESC[0m`, as Pipeline writes them (reference §5.1):
 * progressiveText returns them (Jenkins ≥ 2.509), consoleText strips them.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export const CONSOLE_NOTE_RE = /\x1b\[8mha:[A-Za-z0-9+/=]*\x1b\[0m/g;

function consoleNote(): string {
  // Real notes are base64 of a gzipped serialized Java object; "////" is how they start.
  return `\x1b[8mha:////4${randomBytes(45).toString('base64')}\x1b[0m`;
}

export class BuildLog {
  private chunks: Buffer[] = [];
  private size = 0;
  private joined: Buffer | null = null;
  private sealed = false;

  /** `existing`: the bytes already in `file` (a log persisted earlier); otherwise the file starts empty. */
  constructor(
    private readonly file: string | null,
    private readonly notes: boolean,
    existing?: Buffer,
  ) {
    if (existing) {
      this.chunks = [existing];
      this.size = existing.length;
    } else if (file) {
      writeFileSync(file, '');
    }
  }

  /** Restores a log persisted earlier (dataDir). */
  static load(file: string, notes: boolean): BuildLog {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch {
      data = Buffer.alloc(0);
    }
    return new BuildLog(file, notes, data);
  }

  /** Appends complete lines (each gets a trailing LF). */
  line(text: string): void {
    this.write(`${text}\n`);
  }

  /** A `[Pipeline] …` line, annotated with a console note when notes are on. */
  pipeline(text: string): void {
    this.write(`${this.notes ? consoleNote() : ''}[Pipeline] ${text}\n`);
  }

  /** A hyperlink (HyperlinkNote) in the middle of a line, e.g. the user in "Started by user X". */
  link(text: string): string {
    return `${this.notes ? consoleNote() : ''}${text}`;
  }

  /** Raw write: may leave a partial line, as a process writing without a newline does. */
  write(text: string): void {
    if (this.sealed) return;
    const buf = Buffer.from(text, 'utf8');
    this.chunks.push(buf);
    this.size += buf.length;
    this.joined = null;
    if (this.file) appendFileSync(this.file, buf);
  }

  /** After a hard kill nothing more is written (the job may still be unwinding). */
  seal(): void {
    this.sealed = true;
  }

  get length(): number {
    return this.size;
  }

  bytes(): Buffer {
    if (!this.joined) {
      this.joined = Buffer.concat(this.chunks);
      this.chunks = [this.joined];
    }
    return this.joined;
  }

  /** The log without console notes (what consoleText serves). */
  plainText(): string {
    return this.bytes().toString('utf8').replace(CONSOLE_NOTE_RE, '');
  }
}

/** LineEndNormalizingWriter: every lone LF becomes CRLF (a CR already before the LF is kept). */
export function normalizeLineEnds(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}
