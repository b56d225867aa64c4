/**
 * docs/CI_App_README.md lists every environment variable of the backend, and
 * the list is the same as backend/ci/.env.example's; both cover every variable
 * the code reads at start-up (config.ts's schema and auth/config.ts).
 */
import { describe, expect, it } from 'vitest';
import { proseOf, readDoc } from './markdown.js';

/** KEY=VALUE lines of .env.example (comments skipped). */
function envExampleKeys(): string[] {
  return readDoc('backend/ci/.env.example')
    .split(/\r?\n/)
    .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l.trim())?.[1])
    .filter((k): k is string => !!k);
}

/** The first column of every table row in the README's "Environment variables" section. */
function documentedKeys(): string[] {
  const text = proseOf(readDoc('docs/CI_App_README.md'));
  const start = text.search(/^## Environment variables\s*$/m);
  if (start < 0) throw new Error('docs/CI_App_README.md has no "## Environment variables" section');
  const rest = text.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return section
    .split('\n')
    .map((l) => /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|/.exec(l)?.[1])
    .filter((k): k is string => !!k);
}

/** Variables config.ts validates (its RawEnv schema) and auth/config.ts reads. */
function keysTheCodeReads(): string[] {
  const config = readDoc('backend/ci/src/config.ts');
  const schema = /const RawEnv = z\.object\(\{([\s\S]*?)\n\}\);/.exec(config)?.[1];
  if (!schema) throw new Error('config.ts: RawEnv schema not found; update this test to where the settings are declared');
  const fromSchema = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!);
  const auth = readDoc('backend/ci/src/auth/config.ts');
  const fromAuth = [...auth.matchAll(/env\.([A-Z][A-Z0-9_]*)|'([A-Z][A-Z0-9_]{2,})'/g)].map((m) => (m[1] ?? m[2])!);
  return [...new Set([...fromSchema, ...fromAuth])];
}

const missing = (from: string[], inList: string[]) => from.filter((k) => !inList.includes(k)).sort();

describe('environment variables: docs/CI_App_README.md, backend/ci/.env.example and the code agree', () => {
  it('finds the lists it compares', () => {
    expect(envExampleKeys()).toContain('JENKINS_API_TOKEN');
    expect(documentedKeys().length).toBeGreaterThan(40);
    expect(keysTheCodeReads()).toEqual(expect.arrayContaining(['PORT', 'JENKINS_URL', 'SESSION_SECRET', 'TRUST_PROXY', 'RATE_LIMIT_READS_PER_MIN']));
  });

  it('each variable is documented once', () => {
    const keys = documentedKeys();
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it('the README documents every variable the code reads, and none it does not', () => {
    expect({ undocumented: missing(keysTheCodeReads(), documentedKeys()), documentedButNotRead: missing(documentedKeys(), keysTheCodeReads()) }).toEqual({ undocumented: [], documentedButNotRead: [] });
  });

  it('.env.example lists every variable the code reads (secrets with an empty value)', () => {
    expect({ missingFromEnvExample: missing(keysTheCodeReads(), envExampleKeys()) }).toEqual({ missingFromEnvExample: [] });
  });

  it('the README and .env.example list the same variables', () => {
    expect({ onlyInReadme: missing(documentedKeys(), envExampleKeys()), onlyInEnvExample: missing(envExampleKeys(), documentedKeys()) }).toEqual({ onlyInReadme: [], onlyInEnvExample: [] });
  });
});
