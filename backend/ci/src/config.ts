/**
 * Configuration, read once at start-up from the environment (and `.env`),
 * validated with zod. A missing or malformed variable stops start-up with a
 * message naming it. Nothing else in the code reads process.env.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type AuthConfig, loadAuthConfig } from './auth/config.js';

/** The SPEC.md variable block, per app/environment. */
export const EnvironmentConfig = z.object({
  APP_NAME: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  ENV_NAME: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  GIT_REPO_URL: z.string().min(1),
  JENKINS_JOB_NAME: z.string().min(1),
  JENKINS_CREDENTIALS_ID: z.string().min(1),
  DEVTEST_SERVER: z.string().min(1),
  IIS_APP_POOLS: z.array(z.string().min(1)).min(1),
  DEPLOY_DIR: z.string().min(1),
  DEPLOY_STAGING: z.string().min(1),
  BACKUP_ROOT: z.string().min(1),
  ARTIFACT_NAME: z.string().min(1),
  POSTMAN_COLLECTION: z.string().min(1),
  POSTMAN_ENV: z.string().min(1),
  PYTEST_E2E_DIR: z.string().min(1),
  SMOKE_URLS: z.array(z.string().url()).min(1),
});
export type EnvironmentConfig = z.infer<typeof EnvironmentConfig>;

const csv = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
/** Accepts a JSON array (`["a","b"]`, as in SPEC) or a comma-separated list. */
const listVar = z.string().transform((s, ctx) => {
  const t = s.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      /* fall through to the issue below */
    }
    ctx.addIssue({ code: 'custom', message: 'must be a JSON array of strings or a comma-separated list' });
    return z.NEVER;
  }
  return csv(t);
});
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const RawEnv = z.object({
  APP_NAME: z.string().default('WeSign'),
  ENV_NAME: z.string().default('DevTest'),
  GIT_REPO_URL: z.string().default('https://gitlab.comda.co.il/comsigntrust/comsigntrustcms.git'),
  JENKINS_URL: z.string().url().optional(),
  JENKINS_JOB_NAME: z.string().default('WeSign-CI'),
  JENKINS_CREDENTIALS_ID: z.string().default('svc-devtest'),
  JENKINS_USER: z.string().optional(),
  JENKINS_API_TOKEN: z.string().optional(),
  JENKINS_POLL_MS: int(50, 60_000).default(1000),
  /** How long Jenkins may stay unreachable or silent before the run ends `error`. */
  JENKINS_DEADLINE_S: int(5, 86_400).default(300),
  /** A whole run's upper bound. */
  RUN_TIMEOUT_S: int(10, 86_400).default(7_200),
  DEVTEST_SERVER: z.string().default('DevTest'),
  IIS_APP_POOLS: listVar.default(['UserApi', 'SignerApi', 'ManagementApi', 'DefaultAppPool', 'PdfConvertorService']),
  DEPLOY_DIR: z.string().default('C:\\inetpub\\WeSign'),
  DEPLOY_STAGING: z.string().default('C:\\deploy'),
  BACKUP_ROOT: z.string().default('C:\\backup\\WeSign'),
  ARTIFACT_NAME: z.string().default('WeSign.DevTest.zip'),
  POSTMAN_COLLECTION: z.string().default('postman/collection.json'),
  POSTMAN_ENV: z.string().default('postman/devtest_env.json'),
  PYTEST_E2E_DIR: z.string().default('tests/e2e'),
  SMOKE_URLS: listVar.default(['http://DevTest/health', 'http://DevTest/WeSignManagement/health']),
  ARTIFACT_STORE: z.string().default('reports'),
  CI_ENVIRONMENTS_FILE: z.string().optional(),

  PORT: int(0, 65_535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.string().default('data/ci.sqlite'),
  REDIS_URL: z.string().url().optional(),
  /** off: an API-only instance (scale-out); its runs are executed by worker instances. */
  WORKER: z.enum(['on', 'off']).default('on'),
  RUN_SCORE_THRESHOLD: z.coerce.number().min(0).max(100).default(80),
  SCORE_WEIGHTS: z
    .string()
    .default('build=20,smoke=20,api=30,e2e=30')
    .transform((s, ctx) => {
      const out: Record<string, number> = {};
      for (const part of csv(s)) {
        const [k, v] = part.split('=');
        const n = Number(v);
        if (!k || !['build', 'smoke', 'api', 'e2e'].includes(k) || !Number.isFinite(n) || n < 0) {
          ctx.addIssue({ code: 'custom', message: `bad entry "${part}"; use build=20,smoke=20,api=30,e2e=30` });
          return z.NEVER;
        }
        out[k] = n;
      }
      return out as Record<'build' | 'smoke' | 'api' | 'e2e', number>;
    }),
  AUTH_MODE: z.enum(['none', 'token', 'jwt']).default('none'),
  PUBLIC_URL: z.string().url().optional(),
  SANDBOX_TIME_SCALE: z.coerce.number().min(0).max(100).default(1),
  /** Where the built page lives; served at / when present. */
  FRONTEND_DIST: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  TEAMS_WEBHOOK_URL: z.string().url().optional(),
  SMTP_HOST: z.string().optional(),
  SMTP_PORT: int(1, 65_535).default(587),
  SMTP_SECURE: bool.default(false),
  SMTP_USER: z.string().optional(),
  SMTP_PASSWORD: z.string().optional(),
  SMTP_IGNORE_TLS: bool.default(false),
  NOTIFY_EMAIL_FROM: z.string().optional(),
  NOTIFY_EMAIL_TO: listVar.optional(),
});

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  redisUrl: string | undefined;
  /** Whether this process executes runs (WORKER=on). */
  worker: boolean;
  artifactStore: string;
  jenkins: {
    url: string | undefined;
    user: string | undefined;
    apiToken: string | undefined;
    pollMs: number;
    deadlineMs: number;
  };
  runTimeoutMs: number;
  scoreThreshold: number;
  scoreWeights: Record<'build' | 'smoke' | 'api' | 'e2e', number>;
  authMode: 'none' | 'token' | 'jwt';
  /** Access control (auth/config.ts). */
  auth: AuthConfig;
  publicUrl: string | undefined;
  sandboxTimeScale: number;
  frontendDist: string | undefined;
  logLevel: string;
  environments: EnvironmentConfig[];
  notify: {
    teamsWebhookUrl: string | undefined;
    smtp:
      | { host: string; port: number; secure: boolean; user?: string; password?: string; ignoreTLS: boolean; from: string; to: string[] }
      | undefined;
  };
  /** Every secret value in the config, for the redactor. Never logged. */
  secrets: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Minimal .env reader (KEY=VALUE, # comments, optional quotes); real env wins. */
export function readDotEnv(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    out[key] = value;
  }
  return out;
}

export function loadConfig(env: Record<string, string | undefined> = process.env, dotEnvFiles: string[] = []): Config {
  const fromFiles = Object.assign({}, ...[...dotEnvFiles].reverse().map(readDotEnv)) as Record<string, string>;
  const merged: Record<string, string | undefined> = { ...fromFiles, ...env };
  // Empty strings mean "unset" (as in .env.example, where secrets are empty).
  for (const k of Object.keys(merged)) if (merged[k] === '') delete merged[k];
  const parsed = RawEnv.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}\nFix these variables (see backend/ci/.env.example).`);
  }
  const e = parsed.data;

  if (e.JENKINS_URL && (!e.JENKINS_USER || !e.JENKINS_API_TOKEN)) {
    throw new ConfigError('JENKINS_URL is set but JENKINS_USER or JENKINS_API_TOKEN is missing; set both (a Jenkins user and its API token).');
  }
  const sqlite = !/^postgres(ql)?:\/\//i.test(e.DATABASE_URL);
  if (sqlite && e.REDIS_URL) {
    throw new ConfigError('REDIS_URL (several instances) needs a shared database: set DATABASE_URL=postgres://… , or unset REDIS_URL to run one instance on SQLite.');
  }
  if (sqlite && e.WORKER === 'off') {
    throw new ConfigError('WORKER=off (an API-only instance) needs workers elsewhere, so a shared PostgreSQL DATABASE_URL and REDIS_URL; with SQLite keep WORKER=on.');
  }
  if (e.JENKINS_URL && /\/\/[^/]*@/.test(e.JENKINS_URL)) {
    throw new ConfigError('JENKINS_URL must not contain credentials; put the user in JENKINS_USER and the token in JENKINS_API_TOKEN.');
  }

  const base: EnvironmentConfig = {
    APP_NAME: e.APP_NAME,
    ENV_NAME: e.ENV_NAME,
    GIT_REPO_URL: e.GIT_REPO_URL,
    JENKINS_JOB_NAME: e.JENKINS_JOB_NAME,
    JENKINS_CREDENTIALS_ID: e.JENKINS_CREDENTIALS_ID,
    DEVTEST_SERVER: e.DEVTEST_SERVER,
    IIS_APP_POOLS: e.IIS_APP_POOLS,
    DEPLOY_DIR: e.DEPLOY_DIR,
    DEPLOY_STAGING: e.DEPLOY_STAGING,
    BACKUP_ROOT: e.BACKUP_ROOT,
    ARTIFACT_NAME: e.ARTIFACT_NAME,
    POSTMAN_COLLECTION: e.POSTMAN_COLLECTION,
    POSTMAN_ENV: e.POSTMAN_ENV,
    PYTEST_E2E_DIR: e.PYTEST_E2E_DIR,
    SMOKE_URLS: e.SMOKE_URLS,
  };
  const environments = [validateEnvironment(base, 'the SPEC variables')];
  if (e.CI_ENVIRONMENTS_FILE) environments.push(...loadEnvironmentsFile(e.CI_ENVIRONMENTS_FILE, base));
  const seen = new Set<string>();
  for (const env of environments) {
    const key = `${env.APP_NAME}/${env.ENV_NAME}`.toLowerCase();
    if (seen.has(key)) throw new ConfigError(`CI_ENVIRONMENTS_FILE: ${env.APP_NAME}/${env.ENV_NAME} is defined twice.`);
    seen.add(key);
  }

  let smtp: Config['notify']['smtp'];
  if (e.SMTP_HOST) {
    if (!e.NOTIFY_EMAIL_FROM || !e.NOTIFY_EMAIL_TO?.length) {
      throw new ConfigError('SMTP_HOST is set but NOTIFY_EMAIL_FROM or NOTIFY_EMAIL_TO is missing; set the sender and at least one recipient.');
    }
    smtp = {
      host: e.SMTP_HOST,
      port: e.SMTP_PORT,
      secure: e.SMTP_SECURE,
      ...(e.SMTP_USER ? { user: e.SMTP_USER } : {}),
      ...(e.SMTP_PASSWORD ? { password: e.SMTP_PASSWORD } : {}),
      ignoreTLS: e.SMTP_IGNORE_TLS,
      from: e.NOTIFY_EMAIL_FROM,
      to: e.NOTIFY_EMAIL_TO,
    };
  }

  let auth: AuthConfig;
  try {
    auth = loadAuthConfig(merged);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const secrets = [e.JENKINS_API_TOKEN, e.SMTP_PASSWORD, e.TEAMS_WEBHOOK_URL, auth.sessionSecret].filter((s): s is string => !!s && s.length >= 4);

  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    worker: e.WORKER === 'on',
    artifactStore: path.resolve(e.ARTIFACT_STORE),
    jenkins: {
      url: e.JENKINS_URL,
      user: e.JENKINS_USER,
      apiToken: e.JENKINS_API_TOKEN,
      pollMs: e.JENKINS_POLL_MS,
      deadlineMs: e.JENKINS_DEADLINE_S * 1000,
    },
    runTimeoutMs: e.RUN_TIMEOUT_S * 1000,
    scoreThreshold: e.RUN_SCORE_THRESHOLD,
    scoreWeights: Object.assign({ build: 20, smoke: 20, api: 30, e2e: 30 }, e.SCORE_WEIGHTS),
    authMode: auth.mode,
    auth,
    publicUrl: e.PUBLIC_URL,
    sandboxTimeScale: e.SANDBOX_TIME_SCALE,
    frontendDist: e.FRONTEND_DIST,
    logLevel: e.LOG_LEVEL,
    environments,
    notify: { teamsWebhookUrl: e.TEAMS_WEBHOOK_URL, smtp },
    secrets,
  };
}

function validateEnvironment(candidate: unknown, where: string): EnvironmentConfig {
  const r = EnvironmentConfig.safeParse(candidate);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid environment in ${where}:\n${lines.join('\n')}`);
  }
  return r.data;
}

function loadEnvironmentsFile(file: string, defaults: EnvironmentConfig): EnvironmentConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`CI_ENVIRONMENTS_FILE ${file} could not be read as JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new ConfigError(`CI_ENVIRONMENTS_FILE ${file} must hold a JSON array of environments.`);
  return raw.map((item, i) => validateEnvironment({ ...defaults, ...(item as object) }, `${file}[${i}]`));
}

export function findEnvironment(config: Config, app: string, env: string): EnvironmentConfig | undefined {
  return config.environments.find((e) => e.APP_NAME.toLowerCase() === app.toLowerCase() && e.ENV_NAME.toLowerCase() === env.toLowerCase());
}
