/**
 * Every fenced command block in the operator documents is either run by a doc
 * test (`<!-- test: <scenario> -->`, and a test file runs that scenario), or
 * marked `<!-- windows-only -->` (powershell/bat/cmd only; PowerShell blocks
 * must parse), or `<!-- docker-only -->` (the compose files, services and
 * paths it names exist). See markdown.ts for the convention.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Block, fencedBlocks, readDoc, REPO_ROOT, SHELL_LANGS, WINDOWS_LANGS } from './markdown.js';

const OPERATOR_DOCS = ['docs/CI_App_README.md', 'docs/Runbook.md'];
const COMMAND_WORDS = /^\s*(\$\s+)?(curl|npm|npx|node|py|git|docker|pwsh|powershell|bash|sh|set|export|cp|Invoke-\w+|New-\w+)\b/;

/** The scenarios the test files of this folder run: `runScenario('<doc>', '<scenario>'`. */
function scenariosRunByTests(): Set<string> {
  const dir = path.dirname(new URL(import.meta.url).pathname);
  const out = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.test.ts'))) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    const docConst = /const DOC = '([^']+)'/.exec(text)?.[1];
    for (const m of text.matchAll(/runScenario\(\s*(?:'([^']+)'|DOC),\s*'([a-z0-9-]+)'/g)) out.add(`${m[1] ?? docConst}#${m[2]}`);
  }
  return out;
}

export function blockProblems(blocks: Block[], tested: Set<string>): string[] {
  const problems: string[] = [];
  for (const b of blocks) {
    const where = `${b.file}:${b.line}`;
    if (!b.lang) {
      problems.push(`${where}: a fenced block without a language; name it (sh, powershell, bat, text, json, …)`);
      continue;
    }
    if (!SHELL_LANGS.has(b.lang)) {
      const cmd = b.body.split('\n').find((l) => COMMAND_WORDS.test(l));
      if (cmd) problems.push(`${where}: a "${b.lang}" block holds a command ("${cmd.trim()}"); make it a sh/powershell/bat block with a marker`);
      continue;
    }
    const m = b.marker;
    if (!m) problems.push(`${where}: a ${b.lang} block without a marker; put <!-- test: <scenario> -->, <!-- windows-only --> or <!-- docker-only --> on the line before it`);
    else if (m.kind === 'other') problems.push(`${where}: unknown marker "${m.text}"`);
    else if (m.kind === 'windows-only' && !WINDOWS_LANGS.has(b.lang)) problems.push(`${where}: windows-only is for powershell/bat/cmd blocks, not ${b.lang}`);
    else if (m.kind === 'test' && WINDOWS_LANGS.has(b.lang)) problems.push(`${where}: a ${b.lang} block cannot be run by the Linux doc tests; mark it windows-only`);
    else if (m.kind === 'test' && !tested.has(`${b.file}#${m.scenario}`)) problems.push(`${where}: scenario "${m.scenario}" is run by no test in backend/ci/test/docs (runScenario('${b.file}', '${m.scenario}'))`);
    else if (m.kind === 'docker-only' && !/\bdocker\b/.test(b.body)) problems.push(`${where}: docker-only block without a docker command`);
  }
  return problems;
}

/** pwsh on PATH, in ~/.dotnet/tools or the repo's .tools/bin (where .ci/run installs it). */
function findPwsh(): string | null {
  const candidates = [path.join(REPO_ROOT, '.tools', 'bin', 'pwsh'), path.join(os.homedir(), '.dotnet', 'tools', 'pwsh'), ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'pwsh'))];
  return candidates.find((c) => existsSync(c)) ?? null;
}

describe('command blocks in the operator documents', () => {
  const blocks = OPERATOR_DOCS.flatMap((d) => fencedBlocks(d));
  const tested = scenariosRunByTests();

  it('finds the blocks and the scenarios', () => {
    expect(blocks.filter((b) => b.marker?.kind === 'test').length).toBeGreaterThan(10);
    expect(blocks.filter((b) => b.marker?.kind === 'windows-only').length).toBeGreaterThan(5);
    expect(tested.size).toBeGreaterThan(5);
  });

  it('every command block is tested, windows-only or docker-only', () => {
    expect(blockProblems(blocks, tested)).toEqual([]);
  });

  it('the rule rejects an unmarked block, a wrongly marked one and a command hidden in a text block', () => {
    const sample = ['```sh', 'curl http://x', '```', '', '<!-- windows-only -->', '```sh', 'ls', '```', '', '```text', 'npm start', '```', '', '```', 'x', '```', '', '<!-- test: nobody-runs-this -->', '```sh', 'true', '```'].join('\n');
    const problems = blockProblems(fencedBlocks('docs/sample.md', sample), tested);
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/without a marker[\s\S]*windows-only is for[\s\S]*holds a command[\s\S]*without a language[\s\S]*run by no test/);
  });

  it('every windows-only PowerShell block parses (PowerShell language parser)', () => {
    const ps = blocks.filter((b) => b.marker?.kind === 'windows-only' && ['powershell', 'ps1', 'pwsh'].includes(b.lang));
    expect(ps.length).toBeGreaterThan(3);
    const pwsh = findPwsh();
    if (!pwsh) {
      if (process.env.CI === 'true') throw new Error('pwsh not found: CI must install PowerShell (.ci/install-powershell.sh) to parse the PowerShell blocks');
      console.warn('pwsh not found: PowerShell blocks not parsed (CI is not true)');
      return;
    }
    const script = [
      '$blocks = [Console]::In.ReadToEnd() | ConvertFrom-Json',
      'foreach ($b in $blocks) {',
      '  $tokens = $null; $errors = $null',
      '  [void][System.Management.Automation.Language.Parser]::ParseInput($b.body, [ref]$tokens, [ref]$errors)',
      '  foreach ($e in $errors) { Write-Output ("{0}: line {1}: {2}" -f $b.where, $e.Extent.StartLineNumber, $e.Message) }',
      '}',
    ].join('\n');
    const r = spawnSync(pwsh, ['-NoProfile', '-NonInteractive', '-Command', script], {
      input: JSON.stringify(ps.map((b) => ({ where: `${b.file}:${b.line}`, body: b.body }))),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('');
  });

  it('the scripts the blocks call exist and take the options the blocks pass', () => {
    const problems: string[] = [];
    const COMMON_PS = new Set(['confirm', 'whatif', 'verbose', 'erroraction', 'debug']);
    const checked = { py: 0, ps: 0 };
    for (const b of blocks.filter((x) => SHELL_LANGS.has(x.lang))) {
      for (const line of b.body.split('\n')) {
        // py <repo script>.py --option …: the script exists and its argparse declares each option.
        for (const m of line.matchAll(/\bpy\s+((?:scripts|jenkins|tests)[\\/][\w/\\.-]+\.py)((?:\s+(?:--?[\w-]+|[^\s|;&]+))*)/g)) {
          const rel = m[1]!.replace(/\\/g, '/');
          if (!existsSync(path.join(REPO_ROOT, rel))) {
            problems.push(`${b.file}:${b.line}: ${rel} does not exist`);
            continue;
          }
          const source = readDoc(rel);
          checked.py++;
          for (const opt of m[2]!.match(/(?<=\s)--[\w-]+/g) ?? []) {
            if (!source.includes(`"${opt}"`) && !source.includes(`'${opt}'`)) problems.push(`${b.file}:${b.line}: ${rel} has no option ${opt}`);
          }
        }
        // & .\scripts\ps\<name>.ps1 -Param …: the script exists and its param() block declares each parameter.
        for (const m of line.matchAll(/\.\\scripts\\ps\\([\w-]+\.ps1)((?:\s+[^|;]*)?)/g)) {
          const rel = `scripts/ps/${m[1]}`;
          if (!existsSync(path.join(REPO_ROOT, rel))) {
            problems.push(`${b.file}:${b.line}: ${rel} does not exist`);
            continue;
          }
          const source = readDoc(rel).toLowerCase();
          checked.ps++;
          for (const p of m[2]!.match(/(?<=\s)-([A-Za-z]+)(?=[\s:]|$)/g) ?? []) {
            const name = p.slice(1).toLowerCase();
            if (!COMMON_PS.has(name) && !new RegExp(`\\]\\s*\\$${name}\\b`).test(source)) problems.push(`${b.file}:${b.line}: ${rel} has no parameter -${p.slice(1)}`);
          }
        }
      }
    }
    expect(checked.py).toBeGreaterThanOrEqual(4);
    expect(checked.ps).toBeGreaterThanOrEqual(1);
    expect(problems).toEqual([]);
  });

  it('docker-only blocks name compose files, services and paths that exist', () => {
    const docker = blocks.filter((b) => b.marker?.kind === 'docker-only');
    expect(docker.length).toBeGreaterThan(0);
    const problems: string[] = [];
    const dockerfile = readDoc('deploy/Dockerfile');
    for (const b of docker) {
      for (const line of b.body.split('\n').filter((l) => /\bdocker\b/.test(l))) {
        for (const m of line.matchAll(/-f\s+(\S+)/g)) if (!existsSync(path.join(REPO_ROOT, m[1]!))) problems.push(`${b.file}:${b.line}: ${m[1]} does not exist`);
        const compose = /-f\s+(\S+\.ya?ml)/.exec(line)?.[1];
        const service = /\bexec\s+([\w-]+)/.exec(line)?.[1];
        if (compose && service) {
          const text = readDoc(compose);
          if (!new RegExp(`^  ${service}:`, 'm').test(text)) problems.push(`${b.file}:${b.line}: service ${service} is not in ${compose}`);
          // A repository path run inside the container must exist and be copied into the image (WORKDIR /app).
          for (const p of line.matchAll(/\s((?:backend|scripts|jenkins|contract|postman)\/[\w./-]+\.(?:ts|py|json))/g)) {
            if (!existsSync(path.join(REPO_ROOT, p[1]!))) problems.push(`${b.file}:${b.line}: ${p[1]} does not exist`);
            const top = p[1]!.split('/').slice(0, p[1]!.startsWith('backend/') ? 2 : 1).join('/');
            if (!dockerfile.includes(`./${top}`)) problems.push(`${b.file}:${b.line}: ${top} is not copied into the image by deploy/Dockerfile`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
