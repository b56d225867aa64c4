/**
 * Every relative link in README.md and docs/*.md resolves: the file or folder
 * exists, and a #anchor names a heading of the target (GitHub's slugs).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsOf, links, readDoc, REPO_ROOT } from './markdown.js';

const DOCS = ['README.md', ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

function problemsOf(rel: string): string[] {
  const problems: string[] = [];
  for (const link of links(rel)) {
    const { target } = link;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: … are not ours to check offline
    const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
    const filePart = decodeURI(rawPath);
    const resolved = filePart === '' ? path.join(REPO_ROOT, rel) : path.resolve(path.dirname(path.join(REPO_ROOT, rel)), filePart);
    const where = `${rel}:${link.line} → ${target}`;
    if (!resolved.startsWith(REPO_ROOT)) {
      problems.push(`${where}: leaves the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      problems.push(`${where}: ${path.relative(REPO_ROOT, resolved)} does not exist`);
      continue;
    }
    if (anchor !== undefined) {
      if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
        problems.push(`${where}: an anchor on a file that is not Markdown`);
        continue;
      }
      const anchors = anchorsOf(readDoc(path.relative(REPO_ROOT, resolved)));
      if (!anchors.has(anchor)) problems.push(`${where}: no heading makes the anchor #${anchor} (there are: ${[...anchors].slice(0, 40).join(', ')})`);
    }
  }
  return problems;
}

describe('links between the documents', () => {
  it('checks the operator documents themselves', () => {
    expect(DOCS).toContain('docs/CI_App_README.md');
    expect(DOCS).toContain('docs/Runbook.md');
  });

  for (const rel of DOCS) {
    it(`every relative link and #anchor in ${rel} resolves`, () => {
      expect(problemsOf(rel)).toEqual([]);
    });
  }

  it('the checker itself catches a missing file and a missing anchor', () => {
    // A made-up document, parsed by the same code, must fail both ways.
    const text = '# Title\n\nSee [a](docs/nope.md), [b](README.md#no-such-heading) and [c](#title).\n';
    const found = links('README.md', text).map((l) => l.target);
    expect(found).toEqual(['docs/nope.md', 'README.md#no-such-heading', '#title']);
    expect(anchorsOf(text).has('title')).toBe(true);
    expect(anchorsOf('## 3. Signing in: AUTH_MODE, API tokens, JWT\n').has('3-signing-in-auth_mode-api-tokens-jwt')).toBe(true);
    expect(anchorsOf('## Quick Start\n## Quick Start\n').has('quick-start-1')).toBe(true);
  });
});
