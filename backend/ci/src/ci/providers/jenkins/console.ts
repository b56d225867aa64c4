/**
 * Turning one `progressiveText` reply into clean text and the next cursor, statelessly, so the
 * orchestrator can persist the cursor and resume after a restart with no byte lost or doubled.
 *
 * What Jenkins sends (reference §5.1):
 * - `X-Text-Size` is the raw byte offset to pass as the next `start`. The body is NOT
 *   `X-Text-Size - start` bytes long: every lone LF was written as CRLF. So offsets never come
 *   from the body length, except for the tail we hold back (below), which contains no LF and so
 *   has the same length in the body as in the raw log.
 * - Since 2.509 the body carries console notes `ESC[8mha:<base64>ESC[0m` (gotcha 5); we strip them.
 *   ANSI colours written by the build itself are kept.
 *
 * Chunk boundaries: a running build's reply normally ends at a line end, but a reply can end in
 * the middle of a UTF-8 sequence, a console note, or between the CR and LF of a Windows CRLF
 * (Jenkins cuts after the last `\r` or `\n`, §5.1 "Running builds and partial lines"). Decoding such
 * a tail now would print U+FFFD, leak half a note, or leave a stray CR. Instead the tail is held
 * back: the cursor we return points at its first byte, so the next read starts there and gets it
 * whole. Once the log is complete (no `X-More-Data`) nothing is held back.
 *
 * Which X-Text-Size Jenkins 2.509+ reports for a running build's trailing partial line is
 * UNVERIFIED against a live server (§5.1); this works with the classic contract (cursor after the
 * last complete line) and with a reply cut anywhere, as long as the body ends at X-Text-Size.
 */

const NOTE_PREAMBLE = '\x1b[8mha:';
const NOTE_POSTAMBLE = '\x1b[0m';
/** A whole console note (reference §5.1: `\x1b\[8mha:[A-Za-z0-9+/=]*\x1b\[0m`). */
const NOTE_RE = /\x1b\[8mha:[A-Za-z0-9+/=]*\x1b\[0m/g;
/** A note longer than this without its end is treated as text rather than held back forever. */
const MAX_HELD_NOTE_CHARS = 64 * 1024;

export interface DecodedChunk {
  text: string;
  nextOffset: number;
}

/** Removes whole console notes and turns CRLF into LF. Lone CRs (progress bars) stay. */
export function cleanConsoleText(s: string): string {
  return s.replace(NOTE_RE, '').replace(/\r\n/g, '\n');
}

/**
 * @param body    the raw reply body
 * @param start   the `start` we asked for
 * @param textSize the reply's `X-Text-Size`
 * @param more    the reply had `X-More-Data: true`
 */
export function decodeConsoleChunk(body: Uint8Array, start: number, textSize: number, more: boolean): DecodedChunk {
  if (!more) return { text: decodeConsoleSlice(body), nextOffset: textSize };

  const { kept, heldBytes } = splitHeldTail(body);
  const nextOffset = textSize - heldBytes;
  if (heldBytes > 0 && nextOffset < start) {
    // The reply does not end where X-Text-Size says (a server that cuts the body elsewhere):
    // holding back could move the cursor backwards, so decode everything as it is.
    return { text: decodeConsoleSlice(body), nextOffset: textSize };
  }
  return { text: cleanConsoleText(kept), nextOffset };
}

/**
 * How many leading bytes of `b` (the middle of a long reply) can be decoded now without
 * losing anything: up to the last LF when there is one (an LF is never inside a UTF-8
 * sequence, a console note or a CRLF), otherwise up to what decodeConsoleChunk would hold back.
 * The rest waits for the next bytes of the same reply.
 */
export function safeSliceEnd(b: Uint8Array): number {
  const lf = b.lastIndexOf(0x0a);
  if (lf >= 0) return lf + 1;
  return b.length - splitHeldTail(b).heldBytes;
}

/**
 * The text of `b` that can be decoded now, and how many bytes at its end must wait: an unfinished
 * UTF-8 sequence, then (in the text before it) an opened console note or a CR that may be half a CRLF.
 */
function splitHeldTail(b: Uint8Array): { kept: string; heldBytes: number } {
  const utf8Tail = incompleteUtf8TailLength(b);
  const decoded = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(b.subarray(0, b.length - utf8Tail));
  const holdFrom = heldTextStart(decoded);
  return { kept: decoded.slice(0, holdFrom), heldBytes: utf8Tail + Buffer.byteLength(decoded.slice(holdFrom), 'utf8') };
}

/** Decodes bytes that end where nothing is held back (safeSliceEnd, or a complete reply). */
export function decodeConsoleSlice(b: Uint8Array): string {
  return cleanConsoleText(new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(b));
}

/** Bytes at the end of `b` that start a UTF-8 sequence which the chunk does not finish. */
export function incompleteUtf8TailLength(b: Uint8Array): number {
  // Walk back over at most 3 continuation bytes (10xxxxxx) to the lead byte.
  for (let back = 1; back <= Math.min(4, b.length); back++) {
    const byte = b[b.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    let need = 1; // ASCII, or a byte that can never lead a sequence (0xC0, 0xC1, 0xF5–0xFF)
    if (byte >= 0xc2 && byte <= 0xdf) need = 2;
    else if (byte >= 0xe0 && byte <= 0xef) need = 3;
    else if (byte >= 0xf0 && byte <= 0xf4) need = 4;
    // An ASCII or invalid lead byte ends nothing incomplete; a valid lead short of bytes does.
    return need > back ? back : 0;
  }
  return 0;
}

/** Index in `s` from which the text must wait for the next chunk (s.length when none). */
function heldTextStart(s: string): number {
  let holdFrom = s.length;
  // 1. An opened note whose end has not arrived yet.
  const open = s.lastIndexOf(NOTE_PREAMBLE);
  if (open >= 0 && s.indexOf(NOTE_POSTAMBLE, open + NOTE_PREAMBLE.length) < 0 && s.length - open <= MAX_HELD_NOTE_CHARS) {
    holdFrom = open;
  }
  // 2. The chunk ends with the first characters of a note's preamble (ESC, ESC[, ESC[8m, …).
  for (let n = Math.min(NOTE_PREAMBLE.length - 1, s.length); n > 0; n--) {
    if (s.endsWith(NOTE_PREAMBLE.slice(0, n))) {
      holdFrom = Math.min(holdFrom, s.length - n);
      break;
    }
  }
  // 3. A CR that may be the first half of a CRLF.
  if (holdFrom === s.length && s.endsWith('\r')) holdFrom = s.length - 1;
  return holdFrom;
}
