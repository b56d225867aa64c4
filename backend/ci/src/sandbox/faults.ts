/**
 * Fault knobs of DESIGN §5 (plus rollback_fail), settable while the sandbox runs.
 * The emulated job, the simulated DevTest and the Jenkins front door read them
 * live, so a change takes effect on the next stage / request.
 */

export interface SandboxFaults {
  /** The version deployed next answers 503 on every endpoint, so smoke fails and the Rollback stage runs. */
  smoke_fail: boolean;
  /** Pre-flight reports a failed check (remote WinRM check; in a dry run the local disk check). */
  preflight_fail: boolean;
  /** Unit tests fail in "Build & Unit Tests" (TRX with failures, stage FAILED). */
  build_fail: boolean;
  /** The simulated DevTest answers /api/version with 500 while Newman runs, so real Newman assertions fail. */
  api_fail: boolean;
  /** An E2E test fails (JUnit XML failure, playwright.html shows it). */
  e2e_fail: boolean;
  /** The console prints secret-shaped strings (a connection-string password, a bearer token). All fake. */
  secret_leak: boolean;
  /** The restored version is broken too: re-smoke after rollback fails. */
  rollback_fail: boolean;
  /** 0..1: share of Jenkins API calls answered 500/502/503 before any processing. */
  jenkins_flaky: number;
  /** For this many seconds from now, new connections to the Jenkins port are destroyed. */
  jenkins_down_s: number;
  /** "Build & Unit Tests" prints this many MB of compiler output at once (0..200): a huge console to follow. */
  console_flood_mb: number;
}

export const DEFAULT_FAULTS: SandboxFaults = {
  smoke_fail: false,
  preflight_fail: false,
  build_fail: false,
  api_fail: false,
  e2e_fail: false,
  secret_leak: false,
  rollback_fail: false,
  jenkins_flaky: 0,
  jenkins_down_s: 0,
  console_flood_mb: 0,
};

const BOOLEAN_KEYS = ['smoke_fail', 'preflight_fail', 'build_fail', 'api_fail', 'e2e_fail', 'secret_leak', 'rollback_fail'] as const;
const ALLOWED_HELP =
  'allowed keys: smoke_fail, preflight_fail, build_fail, api_fail, e2e_fail, secret_leak, rollback_fail (booleans), ' +
  'jenkins_flaky (number 0..1), jenkins_down_s (seconds, 0..3600), console_flood_mb (MB, 0..200)';

export class FaultValidationError extends Error {
  override name = 'FaultValidationError';
}

/**
 * Checks a partial fault object from an untrusted source (HTTP body).
 * Throws FaultValidationError naming every problem and the allowed keys/types.
 */
export function validateFaults(input: unknown): Partial<SandboxFaults> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FaultValidationError(`faults must be a JSON object, e.g. {"smoke_fail": true}; ${ALLOWED_HELP}`);
  }
  const problems: string[] = [];
  const out: Partial<SandboxFaults> = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
      if (typeof value !== 'boolean') problems.push(`${key} must be true or false, got ${JSON.stringify(value)}`);
      else out[key as (typeof BOOLEAN_KEYS)[number]] = value;
    } else if (key === 'jenkins_flaky') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
        problems.push(`jenkins_flaky must be a number from 0 to 1 (share of failed calls), got ${JSON.stringify(value)}`);
      } else out.jenkins_flaky = value;
    } else if (key === 'jenkins_down_s') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 3600) {
        problems.push(`jenkins_down_s must be a number of seconds from 0 to 3600, got ${JSON.stringify(value)}`);
      } else out.jenkins_down_s = value;
    } else if (key === 'console_flood_mb') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 200) {
        problems.push(`console_flood_mb must be a number of megabytes from 0 to 200, got ${JSON.stringify(value)}`);
      } else out.console_flood_mb = value;
    } else {
      problems.push(`unknown key "${key}"`);
    }
  }
  if (problems.length) throw new FaultValidationError(`invalid faults: ${problems.join('; ')}; ${ALLOWED_HELP}`);
  return out;
}

/** Live fault state. jenkins_down_s is stored as a deadline and reported as the seconds left. */
export class FaultState {
  private values: SandboxFaults = { ...DEFAULT_FAULTS };
  private downUntil = 0;

  get(): SandboxFaults {
    const left = Math.max(0, (this.downUntil - Date.now()) / 1000);
    return { ...this.values, jenkins_down_s: Math.ceil(left * 10) / 10 };
  }

  set(patch: Partial<SandboxFaults>): SandboxFaults {
    const valid = validateFaults(patch);
    const { jenkins_down_s, ...rest } = valid;
    this.values = { ...this.values, ...rest };
    if (jenkins_down_s !== undefined) this.downUntil = jenkins_down_s > 0 ? Date.now() + jenkins_down_s * 1000 : 0;
    return this.get();
  }

  isJenkinsDown(): boolean {
    return Date.now() < this.downUntil;
  }
}
