/**
 * SPEC: "Use py (not python) in docs/examples/steps". Every Markdown document
 * of the project calls Python as `py`. Allowed: the language's name
 * ("Python"), package names (python3-pytest, python-is-python3), python.org,
 * the `python` suite name of `npm test -- … python`, and the one line that
 * gives Linux a `py` (a symlink or alias to python3).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDoc, REPO_ROOT } from './markdown.js';

const DOCS = [
  'README.md',
  ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  'scripts/ps/README.md',
  'tests/e2e/README.md',
];

/** `python`, `python3`, `python3.11`, `python.exe` as a word (also at the end of a path), not in a package name or a domain. */
const PYTHON_WORD = /(?<![\w.-])python(?:3(?:\.\d+)?)?(?:\.exe)?(?![\w/-]|\.org)/g;

export function pythonUses(text: string): Array<{ line: number; text: string }> {
  const hits: Array<{ line: number; text: string }> = [];
  text.split(/\r?\n/).forEach((l, i) => {
    // The line that makes `py` on Linux necessarily names python3.
    if (/\bln\s+-s\S*\s+\S*python3\S*\s+\S*\/py\b|\balias\s+py=/.test(l)) return;
    // `npm test -- backend python` / `node scripts/test-all.mjs python`: the suite's name in scripts/test-all.mjs.
    const withoutSuiteNames = l.replace(/(npm test --|test-all\.mjs)((?:\s+[\w-]+)+)/g, (_m, cmd: string, names: string) => cmd + names.replace(/\bpython\b/g, 'SUITE'));
    if (PYTHON_WORD.test(withoutSuiteNames)) hits.push({ line: i + 1, text: l.trim() });
    PYTHON_WORD.lastIndex = 0;
  });
  return hits;
}

describe('docs call Python as py', () => {
  it('the check finds python, python3 and python.exe but not package names or the language', () => {
    const sample = [
      'python -m pytest',
      '  python3 scripts/smoke_check.py',
      'C:\\> python.exe -V',
      'apt-get install -y python3-pytest python-is-python3',
      'Python 3.9+ from python.org; pytest-playwright',
      'py scripts/appsettings_patch.py',
      'npm test -- backend python',
      'ln -sf /usr/bin/python3 ~/.local/bin/py',
      '/usr/bin/python3 -m pytest',
    ].join('\n');
    expect(pythonUses(sample).map((h) => h.line)).toEqual([1, 2, 3, 9]);
  });

  for (const rel of DOCS) {
    it(`${rel} uses py, never python`, () => {
      const hits = pythonUses(readDoc(rel)).map((h) => `${rel}:${h.line}: ${h.text}  (write py …; on Linux the docs make py an alias of Python 3)`);
      expect(hits).toEqual([]);
    });
  }
});
