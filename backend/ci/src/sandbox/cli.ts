/**
 * `npm run sandbox`: the sandbox on its own, for a backend in another process.
 * Settings: SANDBOX_PORT (8081), SANDBOX_HOST (127.0.0.1), SANDBOX_TIME_SCALE (1),
 * SANDBOX_DATA_DIR (optional; keeps history across restarts), SANDBOX_DEVTEST_PORT (0 = any).
 */
import { startSandbox } from './index.js';

function num(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`${name}=${raw} is not valid: use a number from ${min} to ${max}.`);
    process.exit(2);
  }
  return n;
}

const port = num('SANDBOX_PORT', 8081, 0, 65535);
const devtestPort = num('SANDBOX_DEVTEST_PORT', 0, 0, 65535);
const timeScale = num('SANDBOX_TIME_SCALE', 1, 0, 100);
const host = process.env.SANDBOX_HOST || '127.0.0.1';
const dataDir = process.env.SANDBOX_DATA_DIR || undefined;

const sandbox = await startSandbox({ host, port, devtestPort, timeScale, ...(dataDir ? { dataDir } : {}), quietPeriodMs: 0 });
const setVar = process.platform === 'win32' ? '$env:' : 'export ';
const q = (s: string) => (process.platform === 'win32' ? `"${s}"` : `'${s}'`);
console.log(`Jenkins-compatible sandbox (not a real Jenkins) is running.

  Jenkins URL        ${sandbox.jenkinsUrl}/
  user               ${sandbox.user}
  API token          ${sandbox.token}
  simulated DevTest  ${sandbox.devtestUrl}
  time scale         ${timeScale}${dataDir ? `\n  data dir           ${dataDir}` : ''}

The token above is a throw-away credential of this sandbox, printed on purpose so that you can
point a backend at it. It opens nothing but this sandbox. Never put a real Jenkins token here.

Point the backend at it (in another terminal, or in backend/ci/.env):
  ${setVar}JENKINS_URL=${q(`${sandbox.jenkinsUrl}/`)}
  ${setVar}JENKINS_USER=${q(sandbox.user)}
  ${setVar}JENKINS_API_TOKEN=${q(sandbox.token)}

Induce faults (see docs/sandbox.md), e.g.:
  curl -u ${sandbox.user}:<token> -X PUT -H "Content-Type: application/json" -d "{\\"smoke_fail\\":true}" ${sandbox.jenkinsUrl}/sandbox/faults

Ctrl+C stops it.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await sandbox.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
