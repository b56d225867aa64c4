/**
 * Runs the command blocks of one scenario of an operator document, as a reader
 * would type them into a Linux shell at the repository root, against the real
 * service and the sandbox. The blocks (marked `<!-- test: <scenario> -->`) are
 * joined in document order into one bash script (`set -euo pipefail`), so a
 * variable set in one block is there in the next, and any failing command
 * fails the scenario.
 *
 * What the runner changes, and why (all in `rewrite()`):
 *   - `npm start` starts the real service the way `npm start -w backend/ci`
 *     does (`node --import tsx src/server.ts` in backend/ci) in the background
 *     and waits for /healthz; a second `npm start` restarts it (the reader
 *     pressed Ctrl+C and started it again). The page build of the root
 *     `npm start` is skipped: the frontend has its own tests.
 *   - `npm run sandbox` starts the real standalone sandbox in the background
 *     (the reader's second terminal) and then does what the document tells
 *     the reader to do with its output: paste its three `export` lines.
 *   - `npm ci` is not re-run in the shared checkout: `npm ls` checks that the
 *     installed tree is the lock file's, which is what `npm ci` leaves behind.
 *   - 127.0.0.1:8080 becomes the free port the service got, 127.0.0.1:8081
 *     the sandbox's; `sleep N` becomes a short sleep (the sandbox runs at
 *     SANDBOX_TIME_SCALE=0.02).
 *   - `py` is Python 3 on this Linux machine (a `py` shim on PATH), as the
 *     README tells Linux readers to set up.
 * Every run gets its own HOME, SQLite file and artifact folder.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fencedBlocks, readDoc, REPO_ROOT } from './markdown.js';

export interface ScenarioResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What the backend and the sandbox printed. */
  backendLog: string;
  sandboxLog: string;
  dir: string;
  dbPath: string;
  artifactStore: string;
  script: string;
  cleanup(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The bash text of a scenario's blocks, in document order. */
export function scenarioText(doc: string, scenario: string): string {
  const blocks = fencedBlocks(doc).filter((b) => b.marker?.kind === 'test' && b.marker.scenario === scenario);
  if (!blocks.length) throw new Error(`${doc} has no block marked <!-- test: ${scenario} -->`);
  return blocks.map((b) => `# --- ${doc}:${b.line}\n${b.body}`).join('\n');
}

export function rewrite(text: string, ports: { backend: number; sandbox: number }): string {
  return text
    .split('\n')
    .map((line) => {
      const bare = line.replace(/\s+#.*$/, '').trim();
      if (bare === 'npm start') return '__qa_start_backend';
      if (bare === 'npm run sandbox') return '__qa_start_sandbox';
      if (bare === 'npm ci') return '__qa_check_install';
      return line
        .replaceAll('127.0.0.1:8080', `127.0.0.1:${ports.backend}`)
        .replaceAll('127.0.0.1:8081', `127.0.0.1:${ports.sandbox}`)
        .replace(/\bsleep \d+(\.\d+)?\b/g, 'sleep 0.2');
    })
    .join('\n');
}

const PRELUDE = String.raw`
set -euo pipefail
__qa_backend=""
__qa_sandbox=""
__qa_cleanup() {
  for p in "$__qa_backend" "$__qa_sandbox"; do
    if [ -n "$p" ]; then kill -TERM -- "-$p" 2>/dev/null || true; fi
  done
  sleep 0.3
  for p in "$__qa_backend" "$__qa_sandbox"; do
    if [ -n "$p" ]; then kill -KILL -- "-$p" 2>/dev/null || true; fi
  done
}
trap __qa_cleanup EXIT
__qa_stop_backend() {
  if [ -n "$__qa_backend" ]; then
    kill -TERM -- "-$__qa_backend" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$__qa_backend" 2>/dev/null || break; sleep 0.1; done
    __qa_backend=""
  fi
}
__qa_start_backend() {
  __qa_stop_backend
  echo "[docs-test] npm start -> node --import tsx src/server.ts (port $PORT)"
  (cd "$QA_REPO/backend/ci" && exec setsid node --import tsx src/server.ts) >>"$QA_DIR/backend.log" 2>&1 &
  __qa_backend=$!
  for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$__qa_backend" 2>/dev/null; then echo "[docs-test] the backend exited:" >&2; cat "$QA_DIR/backend.log" >&2; __qa_backend=""; return 1; fi
    sleep 0.1
  done
  echo "[docs-test] the backend did not answer /healthz" >&2; return 1
}
__qa_start_sandbox() {
  echo "[docs-test] npm run sandbox (port $SANDBOX_PORT), then paste its export lines"
  (cd "$QA_REPO" && exec setsid npm run sandbox) >>"$QA_DIR/sandbox.log" 2>&1 &
  __qa_sandbox=$!
  for _ in $(seq 1 600); do
    if grep -q "JENKINS_API_TOKEN=" "$QA_DIR/sandbox.log"; then
      eval "$(grep -E '^\s*export JENKINS_(URL|USER|API_TOKEN)=' "$QA_DIR/sandbox.log" | sed 's/^ *//')"
      return 0
    fi
    if ! kill -0 "$__qa_sandbox" 2>/dev/null; then echo "[docs-test] the sandbox exited:" >&2; cat "$QA_DIR/sandbox.log" >&2; __qa_sandbox=""; return 1; fi
    sleep 0.1
  done
  echo "[docs-test] the sandbox printed no credentials" >&2; return 1
}
__qa_check_install() {
  echo "[docs-test] npm ci -> npm ls (the installed tree matches package-lock.json)"
  (cd "$QA_REPO" && npm ls --depth=0 >/dev/null)
}
`;

/** Variables .env.example declares: set empty so that a developer's own .env cannot steer the test. */
function neutralEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of readDoc('backend/ci/.env.example').split(/\r?\n/)) {
    const k = /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1];
    if (k) out[k] = '';
  }
  for (const k of ['SESSION_SECRET', 'JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'CORS_ORIGINS', 'TRUST_PROXY', 'QACI_TOKEN']) out[k] = '';
  return out;
}

export async function runScenario(
  doc: string,
  scenario: string,
  opts: { env?: Record<string, string>; given?: string; timeoutMs?: number; keepDir?: boolean } = {},
): Promise<ScenarioResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `qaci-docs-${scenario}-`));
  const home = path.join(dir, 'home');
  const bin = path.join(dir, 'bin');
  mkdirSync(home, { recursive: true });
  mkdirSync(bin, { recursive: true });
  // `py` on Linux: Debian's python3 (the one with pytest), else the first python3 on PATH.
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  writeFileSync(path.join(bin, 'py'), `#!/bin/sh\nexec ${python} "$@"\n`);
  chmodSync(path.join(bin, 'py'), 0o755);

  const ports = { backend: await freePort(), sandbox: await freePort() };
  const dbPath = path.join(dir, 'ci.sqlite');
  const artifactStore = path.join(dir, 'artifacts');
  const script = `${PRELUDE}\n# --- given (set up by the test)\n${opts.given ?? ''}\n${rewrite(scenarioText(doc, scenario), ports)}\n`;
  const scriptPath = path.join(dir, 'scenario.sh');
  writeFileSync(scriptPath, script);

  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...neutralEnv(),
    HOME: home,
    PATH: [path.join(home, '.local', 'bin'), bin, process.env.PATH ?? ''].join(path.delimiter),
    npm_config_cache: path.join(os.homedir(), '.npm'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    QA_REPO: REPO_ROOT,
    QA_DIR: dir,
    PORT: String(ports.backend),
    HOST: '127.0.0.1',
    SANDBOX_PORT: String(ports.sandbox),
    DATABASE_URL: dbPath,
    ARTIFACT_STORE: artifactStore,
    SANDBOX_TIME_SCALE: '0.02',
    JENKINS_POLL_MS: '100',
    JENKINS_DEADLINE_S: '20',
    LOG_LEVEL: 'warn',
    ...opts.env,
  };

  const child = spawn('bash', [scriptPath], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  const timeoutMs = opts.timeoutMs ?? 150_000;
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      stderr += `\n[docs-test] scenario ${scenario} did not finish in ${timeoutMs} ms; killed\n`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const read = (f: string) => (existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), 'utf8') : '');
  return {
    code,
    stdout,
    stderr,
    backendLog: read('backend.log'),
    sandboxLog: read('sandbox.log'),
    dir,
    dbPath,
    artifactStore,
    script,
    cleanup: () => {
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A readable failure message: the script's output and the service's log. */
export function explain(r: ScenarioResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${r.stderr.slice(-4000)}\n--- backend.log\n${r.backendLog.slice(-3000)}\n--- sandbox.log\n${r.sandboxLog.slice(-2000)}`;
}
