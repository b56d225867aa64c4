/**
 * URL paths of the Jenkins REST API (reference: /work/shared/reference/jenkins-rest-api.md,
 * "the reference" below). Everything here is pure: no I/O, easy to test.
 */
import { ProviderError } from '../../errors.js';

/**
 * `a/b` → `/job/a/job/b` (reference §2.1). Each folder level is its own `/job/{segment}`,
 * and each segment is encoded on its own, so a space or `#` in a name cannot break the URL.
 * `.` and `..` are refused: `fetch` would resolve them and reach a different URL.
 */
export function jobPath(job: string): string {
  if (typeof job !== 'string' || job.trim() === '') {
    throw new ProviderError('invalid_job_name', 'The Jenkins job name is empty; set JENKINS_JOB_NAME to the job\'s full name, e.g. "WeSign-CI" or "folder/WeSign-CI".', false);
  }
  const segments = job.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || s.trim() !== s) {
      throw new ProviderError(
        'invalid_job_name',
        `The Jenkins job name ${JSON.stringify(job)} is not a valid full name: folders are separated by single "/", with no empty, "." or ".." parts and no leading or trailing spaces (e.g. "folder/WeSign-CI").`,
        false,
      );
    }
  }
  return segments.map((s) => `/job/${encodeURIComponent(s)}`).join('');
}

export function buildPath(job: string, number: number): string {
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new ProviderError('invalid_build_number', `A Jenkins build number is a positive integer, got ${JSON.stringify(number)}.`, false);
  }
  return `${jobPath(job)}/${number}`;
}

/**
 * An artifact's `relativePath` (from the Run JSON `artifacts`, always `/`-separated) as a URL
 * path with each segment encoded (reference §7, last line). `..` is refused so that a path from
 * the API can never walk out of the build's archive.
 */
export function artifactUrlPath(relativePath: string): string {
  if (typeof relativePath !== 'string' || relativePath === '') {
    throw new ProviderError('invalid_artifact_path', 'The artifact path is empty; pass a relativePath from listArtifacts(), e.g. "reports/newman.html".', false);
  }
  const segments = relativePath.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || s.includes('\\')) {
      throw new ProviderError(
        'invalid_artifact_path',
        `The artifact path ${JSON.stringify(relativePath)} is not a relative path inside the archive: use "/" between parts, with no empty, "." or ".." parts and no "\\" (e.g. "reports/newman.html").`,
        false,
      );
    }
  }
  return segments.map(encodeURIComponent).join('/');
}

/**
 * Queue item id from a `Location` header. Jenkins builds that URL from the servlet container's
 * idea of its host, which is wrong behind proxies, so only the path is used (reference §2.2 and
 * §10 gotcha 6). Relative Locations are accepted too.
 */
export function queueIdFromLocation(location: string | null, baseUrl: string): number | null {
  if (!location) return null;
  let pathname: string;
  try {
    pathname = new URL(location, baseUrl + '/').pathname;
  } catch {
    return null;
  }
  const m = /\/queue\/item\/(\d+)\/?$/.exec(pathname);
  if (!m) return null;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) ? id : null;
}

/**
 * Job full name and build number from an absolute build URL such as
 * `http://wrong-host:8080/jenkins/job/a/job/b/42/` (queue `executable.url`, reference §3.1).
 * The host is ignored (gotcha 6); the context path of our base URL is removed when present.
 */
export function buildFromUrl(url: string, contextPath: string): { job: string; number: number } | null {
  let pathname: string;
  try {
    pathname = new URL(url, 'http://placeholder.invalid/').pathname;
  } catch {
    return null;
  }
  if (contextPath && pathname.startsWith(contextPath + '/')) pathname = pathname.slice(contextPath.length);
  else {
    // A proxy may present a different context path than the container: start at the first /job/.
    const i = pathname.indexOf('/job/');
    if (i < 0) return null;
    pathname = pathname.slice(i);
  }
  const m = /^((?:\/job\/[^/]+)+)\/(\d+)\/?$/.exec(pathname);
  if (!m || !m[1] || !m[2]) return null;
  const job = jobFromPath(m[1]);
  return job === null ? null : { job, number: Number(m[2]) };
}

/** Job full name from a job URL (`…/job/a/job/b/`), or null when it is not one. */
export function jobFromUrl(url: string, contextPath: string): string | null {
  let pathname: string;
  try {
    pathname = new URL(url, 'http://placeholder.invalid/').pathname;
  } catch {
    return null;
  }
  if (contextPath && pathname.startsWith(contextPath + '/')) pathname = pathname.slice(contextPath.length);
  const i = pathname.indexOf('/job/');
  if (i < 0) return null;
  const m = /^((?:\/job\/[^/]+)+)\/?$/.exec(pathname.slice(i));
  return m && m[1] ? jobFromPath(m[1]) : null;
}

function jobFromPath(p: string): string | null {
  try {
    return p
      .split('/job/')
      .slice(1)
      .map((s) => decodeURIComponent(s))
      .join('/');
  } catch {
    return null;
  }
}
