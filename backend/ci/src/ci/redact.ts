/**
 * The one redaction function (DESIGN §6). It serves pino output, the log store,
 * WS frames, error messages and the text of stored artifacts, so a secret is
 * masked the same way everywhere. It reports *what kind* of secret it masked,
 * never the value, so the `secrets` gate can say what was found and where.
 */

export type SecretKind =
  | 'configured_secret'
  | 'jenkins_masked'
  | 'connection_string_password'
  | 'bearer_token'
  | 'basic_auth_url'
  | 'private_key'
  | 'api_key'
  | 'password_assignment'
  | 'aws_access_key'
  | 'slack_token'
  | 'jwt'
  | 'github_token';

export interface RedactionFinding {
  kind: SecretKind;
  count: number;
}

export interface RedactionResult {
  text: string;
  findings: RedactionFinding[];
}

export const MASK = '****';

interface Rule {
  kind: SecretKind;
  re: RegExp;
  /**
   * Text every match of `re` contains (case-insensitively: a superset is fine). Text holding no
   * trigger of any rule cannot match any rule, so a long log is scanned once per trigger and
   * only the lines with a trigger go through the rules (redactLines).
   */
  trigger: RegExp;
  /** Builds the replacement from the match, keeping the non-secret context. */
  replace: (m: string, ...groups: string[]) => string;
}

// Order matters: the broad private-key block first, then specific shapes, then generic assignments.
const RULES: Rule[] = [
  {
    kind: 'private_key',
    re: /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g,
    trigger: /BEGIN/, // not '-----BEGIN': a run of dashes makes the scan 4× slower
    replace: (_m, label) => `-----BEGIN ${label}PRIVATE KEY----- ${MASK} -----END ${label}PRIVATE KEY-----`,
  },
  {
    // scheme://user:password@host — keep user and host.
    kind: 'basic_auth_url',
    re: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):([^\s@/]+)@/gi,
    trigger: /:\/\//,
    replace: (_m, prefix) => `${prefix}:${MASK}@`,
  },
  {
    kind: 'bearer_token',
    re: /\b(Bearer|Basic)\s+([A-Za-z0-9\-._~+/]{8,}=*)/g,
    trigger: /Bearer|Basic/,
    replace: (_m, scheme) => `${scheme} ${MASK}`,
  },
  {
    kind: 'jwt',
    re: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g,
    trigger: /eyJ/,
    replace: () => MASK,
  },
  // Our own API tokens (auth/tokens.ts), e.g. pasted into a rollback reason; and WS tickets in URLs.
  { kind: 'api_key', re: /\bqaci_[A-Za-z0-9_-]{43}\b/g, trigger: /qaci_/, replace: () => MASK },
  // Trigger 'cket=', not 'ticket=': the scan is 5× faster when the first letter is a rare one.
  { kind: 'api_key', re: /\b(ticket=)[A-Za-z0-9_-]{43}\b/g, trigger: /cket=/, replace: (_m, key) => `${key}${MASK}` },
  { kind: 'aws_access_key', re: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, trigger: /AKIA|ASIA/, replace: () => MASK },
  { kind: 'slack_token', re: /\bxox[abprs]-[0-9A-Za-z-]{10,}\b/g, trigger: /xox/, replace: () => MASK },
  { kind: 'github_token', re: /\b(gh[pousr]_[A-Za-z0-9]{30,}|glpat-[A-Za-z0-9_-]{20,})\b/g, trigger: /gh[pousr]_|glpat-/, replace: () => MASK },
  {
    // Password=...; in ADO.NET / ODBC connection strings.
    kind: 'connection_string_password',
    re: /\b(Password|Pwd)\s*=\s*("[^"]*"|'[^']*'|[^;"'\s]+)/gi,
    trigger: /passw|pwd/i,
    replace: (_m, key) => `${key}=${MASK}`,
  },
  {
    kind: 'api_key',
    re: /\b((?:x-)?api[-_]?key|access[-_]?key|client[-_]?secret|secret[-_]?key)(["']?\s*[:=]\s*["']?)([A-Za-z0-9\-._~+/]{8,})/gi,
    trigger: /key|secret/i,
    replace: (_m, key, sep) => `${key}${sep}${MASK}`,
  },
  {
    kind: 'password_assignment',
    re: /\b(password|passwd|secret|token)(["']?\s*[:=]\s*["']?)([^\s"',;]{6,})/gi,
    trigger: /passw|secret|token/i,
    replace: (m, key, sep, value: string) => (value === MASK || value.startsWith('${') || value.startsWith('$env:') || value.startsWith('%') ? m : `${key}${sep}${MASK}`),
  },
];

const KEY_BEGIN = /-----BEGIN [A-Z ]*PRIVATE KEY-----/g;
const KEY_END = /-----END [A-Z ]*PRIVATE KEY-----/;

/** The line starts a private key block it does not end (its last BEGIN has no END after it). */
function opensKeyBlock(line: string): boolean {
  let last = -1;
  KEY_BEGIN.lastIndex = 0;
  for (let m = KEY_BEGIN.exec(line); m; m = KEY_BEGIN.exec(line)) last = m.index + m[0].length;
  return last >= 0 && !KEY_END.test(line.slice(last));
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface Redactor {
  /** Masks every known secret and secret-shaped string in `text`. Pure; safe on any string. */
  redact(text: string): RedactionResult;
  /** Convenience: the masked text only. */
  mask(text: string): string;
  /**
   * `redact` applied to each line, the same result, but fast on a long log: the lines are scanned
   * once per trigger, and only lines holding one go through the rules. Unchanged lines are the
   * same strings. Lines must not contain "\n" (log lines never do).
   * Unlike per-line `redact`, it also masks the body lines of a PEM private key printed over several
   * lines; `inKeyBlock` carries "inside a key" from one batch of lines to the next.
   */
  redactLines(lines: readonly string[], source?: LineSource, inKeyBlock?: boolean): { lines: string[]; findings: RedactionFinding[]; inKeyBlock: boolean };
}

/**
 * The text lines were cut from, to scan instead of joining them: line i must be a substring of
 * text[starts[i], starts[i+1]) (the console parser strips markers and CRs, never adds a trigger).
 * `starts` may have one entry more than there are lines (an unfinished last line, not scanned).
 */
export interface LineSource {
  text: string;
  starts: readonly number[];
}

/** One global scanner per distinct trigger; the case-insensitive keywords (plain words) share one pass. */
function triggerScanners(known: RegExp | null): RegExp[] {
  const insensitive = new Set<string>();
  const sensitive = new Set<string>();
  for (const r of RULES) {
    if (r.trigger.flags.includes('i')) for (const word of r.trigger.source.split('|')) insensitive.add(word);
    else sensitive.add(r.trigger.source);
  }
  const out = [...sensitive].map((src) => new RegExp(src, 'g'));
  out.push(new RegExp([...insensitive].join('|'), 'gi'));
  if (known) out.push(new RegExp(known.source, 'g'));
  return out;
}

/**
 * @param knownSecrets exact values from config (API token, SMTP password, webhook URL…).
 *   Values shorter than 4 characters are ignored: masking them would shred ordinary text.
 */
export function createRedactor(knownSecrets: readonly string[] = []): Redactor {
  const values = [...new Set(knownSecrets.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  const known = values.length ? new RegExp(values.map(escapeRe).join('|'), 'g') : null;

  function redact(text: string): RedactionResult {
    const counts = new Map<SecretKind, number>();
    const bump = (kind: SecretKind) => counts.set(kind, (counts.get(kind) ?? 0) + 1);
    let out = text;
    if (known) {
      out = out.replace(known, () => {
        bump('configured_secret');
        return MASK;
      });
    }
    for (const rule of RULES) {
      rule.re.lastIndex = 0;
      out = out.replace(rule.re, (...args: unknown[]) => {
        const m = args[0] as string;
        const groups = args.slice(1, -2) as string[];
        const replaced = rule.replace(m, ...groups);
        if (replaced !== m) bump(rule.kind);
        return replaced;
      });
    }
    return { text: out, findings: [...counts].map(([kind, count]) => ({ kind, count })) };
  }

  const scanners = triggerScanners(known);

  function redactLines(lines: readonly string[], source?: LineSource, inKeyBlock = false) {
    // Scan the text the lines were cut from when there is one (no copy); else the lines joined.
    const haystack = source ? source.text : lines.join('\n');
    let starts: readonly number[] | null = source ? source.starts : null;
    const lineStarts = () => {
      if (!starts) {
        const s = new Array<number>(lines.length);
        let at = 0;
        for (let i = 0; i < lines.length; i++) {
          s[i] = at;
          at += lines[i]!.length + 1;
        }
        starts = s;
      }
      return starts;
    };
    const lineAt = (pos: number) => {
      const st = lineStarts();
      let lo = 0;
      let hi = st.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (st[mid]! <= pos) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    const candidates = new Set<number>();
    for (const re of scanners) {
      re.lastIndex = 0;
      for (let m = re.exec(haystack); m; m = re.exec(haystack)) {
        const i = lineAt(m.index);
        if (i >= lines.length) break; // past the last line (the source's unfinished tail)
        candidates.add(i);
        // The rest of that line is checked by the rules anyway: go on from the next line.
        const next = lineStarts()[i + 1];
        re.lastIndex = next === undefined ? haystack.length : next;
      }
    }
    if (!candidates.size && !inKeyBlock) return { lines: lines as string[], findings: [], inKeyBlock: false };
    const out = lines.slice();
    const counts = new Map<SecretKind, number>();
    // Lines with a trigger go through the rules. A PEM private key printed over several lines has
    // body lines with no trigger at all: from its BEGIN line (always a candidate: trigger BEGIN)
    // to its END line, possibly in a later batch, they are masked by position.
    let inKey = inKeyBlock;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (inKey) {
        const end = KEY_END.exec(line);
        if (!end) {
          out[i] = MASK;
          continue;
        }
        const after = line.slice(end.index + end[0].length);
        const rest = redact(after);
        mergeFindings(counts, rest.findings);
        out[i] = `${MASK} ${end[0]}${rest.text}`;
        inKey = opensKeyBlock(after);
        continue;
      }
      if (!candidates.has(i)) continue;
      const r = redact(line);
      out[i] = r.text;
      mergeFindings(counts, r.findings);
      inKey = opensKeyBlock(line);
    }
    return { lines: out, findings: [...counts].map(([kind, count]) => ({ kind, count })), inKeyBlock: inKey };
  }

  return { redact, mask: (t) => redact(t).text, redactLines };
}

/** Merges finding lists (e.g. across the lines of a log). */
export function mergeFindings(into: Map<SecretKind, number>, findings: readonly RedactionFinding[]): void {
  for (const f of findings) into.set(f.kind, (into.get(f.kind) ?? 0) + f.count);
}
