/**
 * A SAX-style scan over an XML file, for TRX and JUnit reports that can be tens
 * of MB. The file is read as a stream of 64 KiB chunks and fed to saxes (a
 * well-kept, spec-conformant streaming parser); nothing holds the whole file.
 * Memory bound: one chunk plus whatever the caller keeps per element (the
 * parsers keep counts, a bounded list of names and a capped message).
 */
import { createReadStream } from 'node:fs';
import { SaxesParser, type SaxesTagPlain } from 'saxes';

export interface XmlHandlers {
  open(name: string, attrs: Record<string, string>): void;
  close(name: string): void;
  /** Character data (text and CDATA) of the innermost open element. */
  text?(text: string): void;
}

const CHUNK = 64 * 1024;

/** Local name without a namespace prefix: `t:UnitTestResult` → `UnitTestResult`. */
const local = (name: string) => {
  const i = name.indexOf(':');
  return i >= 0 ? name.slice(i + 1) : name;
};

/** Streams `file` through `handlers`. Rejects with a message naming the file and the parser's position on malformed XML. */
export async function scanXml(file: string, handlers: XmlHandlers): Promise<void> {
  const parser = new SaxesParser({ xmlns: false, position: true });
  let failure: Error | null = null;
  parser.on('error', (e) => {
    failure ??= e;
  });
  parser.on('opentag', (tag: SaxesTagPlain) => handlers.open(local(tag.name), tag.attributes as Record<string, string>));
  parser.on('closetag', (tag) => handlers.close(local(tag.name)));
  if (handlers.text) {
    const onText = handlers.text;
    parser.on('text', onText);
    parser.on('cdata', onText);
  }
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK });
  let first = true;
  for await (const chunk of stream as AsyncIterable<string>) {
    // dotnet writes TRX with a UTF-8 BOM; the decoder keeps it as U+FEFF, which is not XML.
    const text = first && chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
    first = false;
    parser.write(text);
    if (failure) break;
  }
  stream.destroy();
  if (!failure) parser.close();
  if (failure) throw new Error(`${file} is not well-formed XML: ${(failure as Error).message}`);
}

/** Keeps the N largest items by `ms`. */
export class TopN {
  readonly items: Array<{ name: string; ms: number }> = [];
  constructor(private readonly n: number) {}
  add(name: string, ms: number): void {
    if (this.items.length === this.n && ms <= this.items[this.items.length - 1]!.ms) return;
    this.items.push({ name, ms });
    this.items.sort((a, b) => b.ms - a.ms);
    if (this.items.length > this.n) this.items.pop();
  }
}

/** Keeps the first N names and counts the rest. */
export class BoundedList {
  readonly items: string[] = [];
  omitted = 0;
  constructor(private readonly n: number) {}
  add(name: string): void {
    if (this.items.length < this.n) this.items.push(name);
    else this.omitted++;
  }
}
