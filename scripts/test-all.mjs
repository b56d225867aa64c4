#!/usr/bin/env node
// One command runs every check (`npm test`), the same one CI runs.
// Each suite is a real tool run; under CI=true a missing tool is a failure, never a skip.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const isWin = process.platform === 'win32';
const ci = process.env.CI === 'true';
const only = process.argv.slice(2);

/** Finds a program on PATH or in the repo-local tool folder (.tools/), as .ci/run installs them. */
function which(names) {
  const dirs = [path.join(root, '.tools', 'bin'), path.join(process.env.HOME ?? '', '.dotnet', 'tools'), ...(process.env.PATH ?? '').split(path.delimiter)];
  for (const name of names) for (const d of dirs) {
    for (const ext of isWin ? ['.exe', '.cmd', ''] : ['']) {
      const p = path.join(d, name + ext);
      if (existsSync(p)) return p;
    }
  }
  return null;
}

// Debian's pytest belongs to the system interpreter; a pyenv/venv python3 on PATH may lack it.
const python = isWin ? which(['py', 'python']) : existsSync('/usr/bin/python3') ? '/usr/bin/python3' : which(['python3']);
const pwsh = which(['pwsh']);
const npx = isWin ? 'npx.cmd' : 'npx';

const suites = [
  { name: 'typecheck', cmd: npx, args: ['tsc', '--noEmit', '-p', 'backend/ci/tsconfig.json'] },
  { name: 'typecheck-frontend', cmd: npx, args: ['tsc', '--noEmit', '-p', 'frontend/tsconfig.json'], when: 'frontend/tsconfig.json' },
  { name: 'backend', cmd: npx, args: ['vitest', 'run', '--root', 'backend/ci'] },
  { name: 'frontend', cmd: npx, args: ['vitest', 'run', '--root', 'frontend'], when: 'frontend/vitest.config.ts' },
  { name: 'pytest', tool: python, cmd: python, args: ['-m', 'pytest', '-q', 'scripts/tests'], when: 'scripts/tests' },
  { name: 'powershell', tool: pwsh, cmd: pwsh, args: ['-NoProfile', '-NonInteractive', '-File', 'tests/ps/Invoke-Tests.ps1'], when: 'tests/ps/Invoke-Tests.ps1' },
  { name: 'jenkinsfile-lint', cmd: npx, args: ['npm-groovy-lint', '--noserver', '--failon', 'error', '--config', '.groovylintrc.json', 'Jenkinsfile'], when: 'Jenkinsfile' },
  { name: 'browser', cmd: 'node', args: ['frontend/test/browser/run.mjs'], when: 'frontend/test/browser/run.mjs' },
];

let failed = [];
for (const s of suites) {
  if (only.length && !only.includes(s.name)) continue;
  if (s.when && !existsSync(path.join(root, s.when))) continue;
  if ('tool' in s && !s.tool) {
    const msg = `[${s.name}] required tool not found (run .ci/run or see README "Running the tests")`;
    if (ci) { console.error(msg); failed.push(s.name); } else console.warn(`${msg}; skipped because CI is not true`);
    continue;
  }
  console.log(`\n=== ${s.name}: ${[path.basename(s.cmd), ...s.args].join(' ')}`);
  const started = Date.now();
  const r = spawnSync(s.cmd, s.args, { cwd: root, stdio: 'inherit', shell: isWin, env: process.env });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) { failed.push(s.name); console.error(`=== ${s.name} FAILED (${secs}s)`); }
  else console.log(`=== ${s.name} passed (${secs}s)`);
}
if (failed.length) { console.error(`\nFailed suites: ${failed.join(', ')}`); process.exit(1); }
console.log('\nAll suites passed.');
