/**
 * The hardened HTTP surface (DESIGN §6, issue 6): security headers and a
 * strict CSP for the page, rate limits, body and parameter size limits,
 * CORS closed unless CORS_ORIGINS lists origins, and the rules for serving
 * a run's artifacts.
 *
 * Wiring (app.ts):
 *   const app = Fastify({ logger, ...hardenedServerOptions(authConfig) });
 *   await registerHttpHardening(app, { auth: authConfig, host: config.host }); // before any route
 *   await app.register(authPlugin, { config: authConfig, db, redactor, sandbox });
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { AppError } from '../ci/errors.js';
import { type AuthConfig, isLoopbackHost } from '../auth/config.js';

/** Request bodies are small JSON documents (a run request, a sign-in); 64 KiB is generous. */
export const BODY_LIMIT_BYTES = 64 * 1024;
/** Longest route parameter (run id, environment, artifact path); longer gets 414. */
export const MAX_PARAM_LENGTH = 256;

/**
 * Errors the router raises before any hook or error handler runs (a malformed
 * %-escape, an over-long parameter): answered in the DESIGN §5 shape too,
 * without echoing the URL back.
 */
const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (err, request, rawReply) => {
  const reply = rawReply as unknown as FastifyReply;
  // A refused WebSocket upgrade never reaches @fastify/websocket's onResponse hook, which is what
  // closes its socket; without this the half-open socket lingers and server.close() waits for it.
  if (request.raw.headers.upgrade) reply.raw.once('finish', () => request.raw.socket?.destroy());
  const send = (status: number, code: string, message: string) =>
    reply
      .code(status).header('x-content-type-options', 'nosniff').header('cache-control', 'no-store').send({ error: { code, message, details: null } });
  if (err.code === 'FST_ERR_BAD_URL') return send(400, 'bad_url', 'The URL has a malformed %-escape; encode each path segment once (encodeURIComponent).');
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return send(414, 'param_too_long', `A path segment is longer than ${MAX_PARAM_LENGTH} characters; use the ids and names the API returns.`);
  }
  return send(500, 'internal_error', 'The server failed to handle this request; the details are in the server log.');
};

/** Options for `Fastify({...})`: these cannot be changed after creation. */
export function hardenedServerOptions(
  auth: Pick<AuthConfig, 'trustProxy'>,
): Pick<FastifyServerOptions, 'bodyLimit' | 'trustProxy' | 'requestTimeout' | 'routerOptions' | 'frameworkErrors'> {
  return {
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: auth.trustProxy,
    // A client that trickles its request is cut off (slowloris); WebSocket frames are not requests.
    requestTimeout: 30_000,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
  };
}

/** The page's CSP: only its own scripts and styles, no inline script, WS back to the server. */
export const PAGE_CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'", 'ws:', 'wss:'],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  frameSrc: ["'self'"],
  workerSrc: ["'self'"],
  manifestSrc: ["'self'"],
};

/** The OpenAPI UI (/docs) sets inline styles; only there may styles be inline. Scripts stay 'self'. */
const DOCS_PREFIX = '/docs';
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const DOCS_CSP = Object.entries({ ...PAGE_CSP_DIRECTIVES, styleSrc: ["'self'", "'unsafe-inline'"] })
  .map(([k, v]) => `${kebab(k)} ${v.join(' ')}`)
  .join('; ');

type Bucket = 'login' | 'write' | 'read';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOGIN_PATHS = new Set(['/ci/auth/login']);

function bucketOf(req: FastifyRequest): Bucket {
  const p = req.url.split('?', 1)[0] ?? '';
  if (LOGIN_PATHS.has(p)) return 'login';
  return SAFE_METHODS.has(req.method) ? 'read' : 'write';
}

/** Methods and headers a listed origin may use; credentials allowed (cookies), so never `*`. */
const CORS_METHODS = 'GET, POST, PUT, DELETE';
const CORS_HEADERS = 'authorization, content-type, x-csrf-token';
const CORS_EXPOSE = 'retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset';

export interface HardeningConfig {
  auth: Pick<AuthConfig, 'corsOrigins' | 'rateLimits'>;
  /** HOST the service binds; HSTS is sent only when it is not loopback. */
  host: string;
}

/** Registers helmet, rate limits and CORS. Call before registering any route (rate limits attach per route). */
export async function registerHttpHardening(app: FastifyInstance, cfg: HardeningConfig): Promise<void> {
  const { corsOrigins, rateLimits } = cfg.auth;

  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: PAGE_CSP_DIRECTIVES },
    // HSTS on a loopback/dev address would pin https on localhost for every other local app.
    strictTransportSecurity: isLoopbackHost(cfg.host) ? false : { maxAge: 15_552_000, includeSubDomains: false },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const p = request.url.split('?', 1)[0] ?? '';
    if (p === DOCS_PREFIX || p.startsWith(`${DOCS_PREFIX}/`)) reply.header('content-security-policy', DOCS_CSP);
    return payload;
  });

  const maxFor: Record<Bucket, number> = { login: rateLimits.loginPerMinute, write: rateLimits.writesPerMinute, read: rateLimits.readsPerMinute };
  await app.register(rateLimit, {
    global: true,
    timeWindow: 60_000,
    keyGenerator: (req) => `${req.ip}|${bucketOf(req)}`,
    max: (_req, key) => maxFor[(key.split('|').pop() ?? 'read') as Bucket] ?? rateLimits.readsPerMinute,
    errorResponseBuilder: (req, ctx) => {
      const bucket = bucketOf(req);
      const what = bucket === 'login' ? 'sign-in attempts' : bucket === 'write' ? 'changes' : 'requests';
      const retryAfterS = Math.max(1, Math.ceil(ctx.ttl / 1000));
      // Thrown by the plugin; the app's error handler renders AppError as {error:{code,message,details}}.
      return Object.assign(
        new AppError(429, 'rate_limited', `Too many ${what} from this address (limit ${ctx.max} a minute); wait ${retryAfterS} s and try again.`, { retry_after_s: retryAfterS, limit: ctx.max }),
        { statusCode: 429 },
      );
    },
  });

  // CORS: closed (no CORS headers at all, so browsers refuse cross-origin reads) unless CORS_ORIGINS lists the origin.
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    const listed = origin !== undefined && corsOrigins.includes(origin);
    if (listed) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-allow-credentials', 'true');
      reply.header('access-control-expose-headers', CORS_EXPOSE);
      reply.header('vary', 'Origin');
    }
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      if (!listed) {
        return reply
          .code(403)
          .send({ error: { code: 'cors_not_allowed', message: 'Cross-origin requests from this origin are not allowed; an admin can list it in CORS_ORIGINS.', details: null } });
      }
      return reply.code(204).header('access-control-allow-methods', CORS_METHODS).header('access-control-allow-headers', CORS_HEADERS).header('access-control-max-age', '600').send();
    }
  });
}

/**
 * Headers for a served artifact (an HTML report may carry scripts): the CSP
 * sandbox gives it an opaque origin, so its scripts never run as the app.
 */
export function artifactHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', 'sandbox allow-scripts')
    .header('x-content-type-options', 'nosniff')
    .header('cross-origin-resource-policy', 'same-origin')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'private, no-cache');
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9 ._+@()-]*$/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\.|$)/i;
const MAX_NAME_CHARS = 512;
const MAX_DEPTH = 8;

/**
 * Why `requested` is not an acceptable artifact name, or null. Names are
 * relative paths of plain ASCII segments (`newman.html`, `trx/unit.trx`);
 * anything that could climb, name a device, or mean something else on
 * Windows is refused before the filesystem is touched.
 */
export function artifactNameProblem(requested: unknown): string | null {
  if (typeof requested !== 'string' || requested.length === 0) return 'is empty';
  if (requested.length > MAX_NAME_CHARS) return `is longer than ${MAX_NAME_CHARS} characters`;
  if (/[\x00-\x1f\x7f]/.test(requested)) return 'contains a control character (NUL, newline…)';
  if (/[^\x20-\x7e]/.test(requested)) return 'contains a non-ASCII character (look-alike dots and slashes are refused)';
  if (requested.includes('\\')) return 'contains a backslash; use / between folders';
  if (requested.includes('%')) return 'contains %; send the name decoded exactly once';
  if (requested.includes(':')) return 'contains : (drive letters and alternate data streams are refused)';
  if (requested.startsWith('/') || requested.startsWith('~')) return 'is absolute; give a path relative to the run, such as newman.html or trx/unit.trx';
  const segments = requested.split('/');
  if (segments.length > MAX_DEPTH) return `is more than ${MAX_DEPTH} folders deep`;
  for (const s of segments) {
    if (s === '') return 'has an empty path segment (// or a trailing /)';
    if (s === '.' || s === '..') return 'contains . or .. segments';
    if (!SEGMENT.test(s)) return `has a segment "${s}" outside letters, digits, space and . _ + @ ( ) -, or starting with . or -`;
    if (s.endsWith('.') || s.endsWith(' ')) return 'has a segment ending in . or space (Windows would change the name)';
    if (WINDOWS_RESERVED.test(s)) return `has a segment "${s}" that is a Windows device name`;
  }
  return null;
}

const inside = (root: string, p: string) => {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};

/**
 * Resolves an artifact name inside a run's folder, or throws an AppError:
 * 400 `invalid_artifact_name` for a name that breaks the rules above, 404
 * `not_found` when there is no such regular file inside the folder —
 * including a symlink (or a symlinked folder) that leads out of it.
 * Returns the real path to stream.
 */
export async function safeArtifactPath(runDir: string, requested: string): Promise<string> {
  const problem = artifactNameProblem(requested);
  if (problem) {
    throw new AppError(400, 'invalid_artifact_name', `The artifact name ${problem}. Use a name from the run's artifacts list.`, { artifact: problem });
  }
  const notFound = () => new AppError(404, 'not_found', `Artifact ${requested} was not found in this run; use a name from the run's artifacts list.`);
  let root: string;
  try {
    root = await realpath(runDir);
  } catch {
    throw notFound();
  }
  const candidate = path.join(root, ...requested.split('/'));
  if (!inside(root, candidate)) throw notFound();
  let real: string;
  try {
    await lstat(candidate);
    real = await realpath(candidate);
  } catch {
    throw notFound();
  }
  if (!inside(root, real)) throw notFound();
  const st = await stat(real).catch(() => null);
  if (!st?.isFile()) throw notFound();
  return real;
}
