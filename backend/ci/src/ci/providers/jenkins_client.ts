/**
 * The Jenkins implementation of CiProvider, over the Jenkins REST API as real Jenkins serves it.
 * The sandbox is a Jenkins-compatible server, so it is driven by this same client (DESIGN §1).
 *
 * "§n" in comments refers to /work/shared/reference/jenkins-rest-api.md, which was read from
 * Jenkins' own source; "gotcha n" to its §10 list. docs/jenkins-client.md explains the whole.
 *
 * Errors: every method rejects with ProviderError (network, timeout, 5xx, a connection reset in
 * the middle of a body → retryable; 401/403/404/4xx → not, with a message that says how to fix
 * it). Retry with ./jenkins/retry.ts `withRetry`. The API token never appears in a message, URL or
 * log line.
 */
import { z } from 'zod';
import { ProviderError } from '../errors.js';
import { decodeConsoleChunk, decodeConsoleSlice, safeSliceEnd } from './jenkins/console.js';
import { JenkinsHttp, type FetchLike, type JenkinsReply, type RequestListener } from './jenkins/http.js';
import { artifactUrlPath, buildFromUrl, buildPath, jobFromUrl, jobPath, queueIdFromLocation } from './jenkins/paths.js';
import type {
  BuildRef,
  BuildState,
  CiProvider,
  ConsoleChunk,
  ConsolePosition,
  ConsoleSlice,
  JobCheck,
  JobParameters,
  ProviderArtifact,
  ProviderStage,
  ProviderStageStatus,
  QueueRef,
  QueueState,
} from './provider.js';

/**
 * About how much of a progressiveText reply is decoded at a time. Under 128 KiB the slice's strings
 * are ordinary young-generation objects that die in the next scavenge; larger ones go to V8's
 * large-object space and pile up until a full GC (bench/ingest.ts: +75 MB RSS at 256 KiB).
 */
export const CONSOLE_SLICE_BYTES = 64 * 1024;

export interface JenkinsClientOptions {
  /** Jenkins root URL, e.g. "https://jenkins.example.com/" or "http://host:8080/jenkins". No credentials. */
  baseUrl: string;
  user: string;
  apiToken: string;
  /** Per request: until the headers, then again for the body (an idle timeout for downloads). Default 30 s. */
  timeoutMs?: number;
  fetchImpl?: FetchLike;
  /** Called once per HTTP exchange, status null when no reply came. Never receives secrets. */
  onRequest?: RequestListener;
  /**
   * Seconds to pass as `delay=<n>sec` on trigger; unset leaves the job's quiet period (Jenkins
   * default 5 s) in force. Always sent with the "sec" unit: a bare number is milliseconds (gotcha 8).
   */
  triggerDelaySec?: number;
  /**
   * locateByRunId: how long to wait before looking at the builds a second time, to cover the
   * moment when a queue item has left the queue but its build does not exist yet (§3.1). Default 500 ms.
   */
  locateSettleMs?: number;
}

/** One parameter definition of a job, as `checkJob` reads it (§10 gotcha 7). */
export interface JenkinsParameterDefinition {
  name: string;
  /** Jenkins' type name, e.g. "StringParameterDefinition", "BooleanParameterDefinition", "ChoiceParameterDefinition". */
  type: string | null;
  /** For choice parameters; null otherwise. */
  choices: string[] | null;
  defaultValue: string | boolean | null;
}

export interface JenkinsJobCheck extends JobCheck {
  definitions: JenkinsParameterDefinition[];
}

/** What locateByRunId found: a build, a still-queued item, or nothing. */
export type RunLocation = { kind: 'build'; build: BuildRef } | { kind: 'queued'; queue: QueueRef } | null;

/** The parameter that ties a build to a backend run (DESIGN §3). */
export const RUN_ID_PARAMETER = 'QA_RUN_ID';

// ---- Response shapes (lenient: Jenkins adds fields and `_class` everywhere; §4 "tree=") ----

const ParameterValue = z.object({ name: z.string(), value: z.unknown().optional() });
const Actions = z.array(z.object({ parameters: z.array(ParameterValue.nullable()).optional() }).nullable()).optional();

const RunJson = z.object({
  number: z.number().optional(),
  url: z.string().optional(),
  building: z.boolean().optional(),
  inProgress: z.boolean().optional(),
  result: z.string().nullable().optional(),
  timestamp: z.number().optional(),
  duration: z.number().optional(),
  description: z.string().nullable().optional(),
  actions: Actions,
});

const ArtifactsJson = z.object({
  artifacts: z.array(z.object({ relativePath: z.string(), fileName: z.string().optional() })).optional(),
});

const BuildsJson = z.object({
  builds: z.array(z.object({ number: z.number(), url: z.string().optional(), actions: Actions }).nullable()).optional(),
});

const QueueItemJson = z.object({
  _class: z.string().optional(),
  id: z.number().optional(),
  why: z.string().nullable().optional(),
  cancelled: z.boolean().optional(),
  executable: z.object({ number: z.number(), url: z.string().optional() }).nullable().optional(),
  task: z.object({ name: z.string().optional(), url: z.string().optional() }).nullable().optional(),
});

const QueueJson = z.object({
  items: z
    .array(
      z.object({
        id: z.number(),
        params: z.string().nullable().optional(),
        task: z.object({ name: z.string().optional(), url: z.string().optional() }).nullable().optional(),
        actions: Actions,
      }),
    )
    .optional(),
});

const JobJson = z.object({
  buildable: z.boolean().optional(),
  property: z
    .array(
      z
        .object({
          parameterDefinitions: z
            .array(
              z.object({
                name: z.string(),
                type: z.string().nullable().optional(),
                choices: z.array(z.string()).nullable().optional(),
                defaultParameterValue: z.object({ value: z.unknown().optional() }).nullable().optional(),
              }),
            )
            .nullable()
            .optional(),
        })
        .nullable(),
    )
    .optional(),
});

const WfapiDescribe = z.object({
  stages: z
    .array(
      z.object({
        name: z.string(),
        status: z.string(),
        startTimeMillis: z.number().optional(),
        durationMillis: z.number().optional(),
      }),
    )
    .optional(),
});

const STAGE_STATUSES: readonly ProviderStageStatus[] = ['NOT_EXECUTED', 'IN_PROGRESS', 'SUCCESS', 'FAILED', 'ABORTED', 'UNSTABLE', 'PAUSED_PENDING_INPUT', 'NOT_BUILT', 'SKIPPED'];

// ---- The client ----

export class JenkinsClient implements CiProvider {
  readonly name = 'jenkins' as const;
  readonly baseUrl: string;
  private readonly http: JenkinsHttp;
  private readonly triggerDelaySec: number | undefined;
  private readonly locateSettleMs: number;

  constructor(opts: JenkinsClientOptions) {
    this.http = new JenkinsHttp(opts);
    this.baseUrl = this.http.baseUrl;
    if (opts.triggerDelaySec !== undefined && !(Number.isInteger(opts.triggerDelaySec) && opts.triggerDelaySec >= 0)) {
      throw new ProviderError('invalid_config', `triggerDelaySec must be a whole number of seconds >= 0, got ${String(opts.triggerDelaySec)}.`, false);
    }
    this.triggerDelaySec = opts.triggerDelaySec;
    this.locateSettleMs = opts.locateSettleMs ?? 500;
  }

  async ping(signal?: AbortSignal): Promise<{ version: string | null }> {
    // The smallest authenticated call; a wrong token gets 401 here like everywhere (§1.1).
    const reply = await this.http.send('GET', '/api/json?tree=mode', { signal });
    if (reply.status !== 200) throw await this.http.statusError(reply, 'checking that Jenkins answers');
    await reply.discard();
    // §1.3: every API reply carries X-Jenkins: <version>.
    return { version: reply.headers.get('x-jenkins') };
  }

  async checkJob(job: string, signal?: AbortSignal): Promise<JenkinsJobCheck> {
    // §10 gotcha 7: the declared parameters, to validate names before a trigger silently ignores them.
    const tree = 'buildable,property[parameterDefinitions[name,type,choices,defaultParameterValue[value]]]';
    const reply = await this.http.send('GET', `${jobPath(job)}/api/json?tree=${encodeURIComponent(tree)}`, { signal });
    if (reply.status === 404) {
      await reply.discard();
      return { exists: false, buildable: false, parameters: [], definitions: [] };
    }
    const body = await this.json(reply, JobJson, 'reading the job');
    const definitions: JenkinsParameterDefinition[] = [];
    for (const p of body.property ?? []) {
      for (const d of p?.parameterDefinitions ?? []) {
        const dv = d.defaultParameterValue?.value;
        definitions.push({
          name: d.name,
          type: d.type ?? null,
          choices: d.choices ?? null,
          defaultValue: typeof dv === 'string' || typeof dv === 'boolean' ? dv : null,
        });
      }
    }
    return { exists: true, buildable: body.buildable === true, parameters: definitions.map((d) => d.name), definitions };
  }

  async findBuildByRunId(job: string, qaRunId: string, signal?: AbortSignal): Promise<BuildRef | null> {
    // §9: builds are newest first; the first 50 cover any restart we can recover from.
    requireRunId(qaRunId);
    const tree = 'builds[number,url,actions[parameters[name,value]]]{0,50}';
    const reply = await this.http.send('GET', `${jobPath(job)}/api/json?tree=${encodeURIComponent(tree)}`, { signal });
    const body = await this.json(reply, BuildsJson, 'looking for the build of a run', () => this.jobNotFound(job));
    for (const b of body.builds ?? []) {
      if (b && parameterValue(b.actions, RUN_ID_PARAMETER) === qaRunId) {
        return { job, number: b.number, url: b.url ?? this.absoluteBuildUrl(job, b.number) };
      }
    }
    return null;
  }

  /**
   * A still-queued item of `job` whose QA_RUN_ID is `qaRunId` (§9 "Check the queue as well"): a
   * build waiting in its quiet period, or blocked by a running build, is not in `builds` yet.
   */
  async findQueuedByRunId(job: string, qaRunId: string, signal?: AbortSignal): Promise<QueueRef | null> {
    requireRunId(qaRunId);
    const tree = 'items[id,params,task[name,url],actions[parameters[name,value]]]';
    const reply = await this.http.send('GET', `/queue/api/json?tree=${encodeURIComponent(tree)}`, { signal });
    const body = await this.json(reply, QueueJson, 'looking for a queued build of a run');
    for (const item of body.items ?? []) {
      const taskJob = item.task?.url ? jobFromUrl(item.task.url, this.http.contextPath) : null;
      if (taskJob !== null && taskJob !== job) continue;
      const byAction = parameterValue(item.actions, RUN_ID_PARAMETER);
      // `params` is "\nNAME=value" per parameter (§3.1), a fallback when actions are pruned.
      const byText = (item.params ?? '').split('\n').some((line) => line === `${RUN_ID_PARAMETER}=${qaRunId}`);
      if (byAction === qaRunId || (byAction === undefined && byText)) return { id: item.id };
    }
    return null;
  }

  /**
   * Where the build of a run is, if it was ever triggered: look before triggering, so that a
   * restarted backend never starts a second build (issue 2). The queue is read before the
   * builds so that an item moving from one to the other is not missed; if neither has it, the
   * builds are read once more after `locateSettleMs`, because a queue item that has just left the
   * queue has no build for a moment (§3.1, the executable:null window).
   */
  async locateByRunId(job: string, qaRunId: string, signal?: AbortSignal): Promise<RunLocation> {
    const queued = await this.findQueuedByRunId(job, qaRunId, signal);
    if (queued) return { kind: 'queued', queue: queued };
    let build = await this.findBuildByRunId(job, qaRunId, signal);
    if (!build && this.locateSettleMs > 0) {
      await delay(this.locateSettleMs, signal);
      build = await this.findBuildByRunId(job, qaRunId, signal);
    }
    return build ? { kind: 'build', build } : null;
  }

  /**
   * Triggers the run's build unless it exists already (queued or started): the safe way to
   * (re)try a trigger, since a trigger that timed out or got a 5xx may have queued a build.
   * Wrap it in withRetry; each attempt looks before it triggers.
   */
  async ensureTriggered(job: string, params: JobParameters, signal?: AbortSignal): Promise<NonNullable<RunLocation>> {
    const found = await this.locateByRunId(job, params.QA_RUN_ID, signal);
    if (found) return found;
    return { kind: 'queued', queue: await this.trigger(job, params, signal) };
  }

  async trigger(job: string, params: JobParameters, signal?: AbortSignal): Promise<QueueRef> {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(params) as [string, unknown][]) {
      if (typeof value === 'boolean') form.set(name, value ? 'true' : 'false'); // parsed by Boolean.parseBoolean (§2.2)
      else if (typeof value === 'string') form.set(name, value);
      else throw new ProviderError('invalid_parameters', `Job parameter ${name} must be a string or a boolean, got ${typeof value}.`, false);
    }
    if (this.triggerDelaySec !== undefined) form.set('delay', `${this.triggerDelaySec}sec`);
    // §2.2: parameters as a form body (not the query string, so they stay out of URLs and logs).
    const path = `${jobPath(job)}/buildWithParameters`;
    const reply = await this.http.send('POST', path, { body: form, signal });
    const location = reply.headers.get('location');
    // 201 = a new queue item; 303 = merged into an equal queued item (≥ 2.308); both point at it.
    if (reply.status === 201 || reply.status === 303) {
      await reply.discard();
      const id = queueIdFromLocation(location, this.baseUrl);
      if (id === null) {
        throw this.http.error('unexpected_response', `POST ${path} answered ${reply.status} without a Location /queue/item/<id>/; cannot follow the build.`, false, reply.status);
      }
      return { id };
    }
    throw await this.triggerError(job, reply);
  }

  async queueState(queue: QueueRef, signal?: AbortSignal): Promise<QueueState> {
    const id = queueId(queue);
    const tree = 'id,why,cancelled,executable[number,url],task[name,url]';
    const reply = await this.http.send('GET', `/queue/item/${id}/api/json?tree=${encodeURIComponent(tree)}`, { signal });
    const item = await this.json(reply, QueueItemJson, 'following the queued build', () => this.queueItemGone(id));
    const kind = item._class ?? '';
    if (!kind.endsWith('$LeftItem')) {
      // Waiting (quiet period), Blocked (e.g. disableConcurrentBuilds) or Buildable (no executor yet).
      return { build: null, cancelled: false, why: item.why ?? null };
    }
    if (item.cancelled === true) return { build: null, cancelled: true, why: null };
    if (!item.executable) {
      // Gotcha 2: a LeftItem can briefly have executable:null and cancelled:false. Keep polling.
      return { build: null, cancelled: false, why: 'Leaving the queue: the build is being created' };
    }
    const number = item.executable.number;
    const fromUrl = item.executable.url ? buildFromUrl(item.executable.url, this.http.contextPath) : null;
    const fromTask = item.task?.url ? jobFromUrl(item.task.url, this.http.contextPath) : null;
    const job = fromUrl?.job ?? fromTask;
    if (!job) {
      throw this.http.error('unexpected_response', `GET /queue/item/${id}/api/json: the started build's URL does not name its job.`, false, 200);
    }
    return { build: { job, number, url: item.executable.url ?? this.absoluteBuildUrl(job, number) }, cancelled: false, why: null };
  }

  async cancelQueueItem(queue: QueueRef, signal?: AbortSignal): Promise<void> {
    const id = queueId(queue);
    const reply = await this.http.send('POST', `/queue/cancelItem?id=${id}`, { signal });
    // §3.2: 204 since 2.211; before that a 302 to the previous page.
    if (reply.status === 204 || reply.status === 302 || reply.status === 200) {
      await reply.discard();
      return;
    }
    if (reply.status === 404) {
      await reply.discard();
      throw this.queueItemGone(id);
    }
    if (reply.status === 422) {
      await reply.discard();
      throw this.http.error('forbidden', `Jenkins refused to cancel queue item ${id} (422): JENKINS_USER lacks the Job/Cancel permission.`, false, 422);
    }
    if (reply.status === 500) {
      // §3.2: 500 "Could not cancel run for id N" also means the item already left the queue.
      await reply.discard();
      throw this.http.error(
        'queue_item_not_cancellable',
        `Jenkins could not cancel queue item ${id} (500): it has probably left the queue already (started or cancelled); follow it with queueState and stop the build instead.`,
        false,
        500,
      );
    }
    throw await this.http.statusError(reply, 'cancelling a queued build');
  }

  async buildState(build: BuildRef, signal?: AbortSignal): Promise<BuildState> {
    const tree = 'number,building,inProgress,result,timestamp,duration,description,actions[parameters[name,value]]';
    const reply = await this.http.send('GET', `${buildPath(build.job, build.number)}/api/json?tree=${encodeURIComponent(tree)}`, { signal });
    const run = await this.json(reply, RunJson, 'reading the build', () => this.buildNotFound(build));
    const parameters: Record<string, string | boolean> = {};
    for (const a of run.actions ?? []) {
      for (const p of a?.parameters ?? []) {
        // Password parameters export no value (§4 "Parameters in JSON"); other types are strings or booleans.
        if (p && (typeof p.value === 'string' || typeof p.value === 'boolean')) parameters[p.name] = p.value;
      }
    }
    return {
      // Gotcha 3: `result` can be set while the build still runs, so "finished" comes only from
      // building/inProgress (WorkflowRun.isBuilding = result == null || isInProgress, §4).
      building: run.building === true || run.inProgress === true,
      result: run.result ?? null,
      timestampMs: run.timestamp ?? 0,
      durationMs: run.duration ?? 0,
      description: run.description ?? null,
      parameters,
    };
  }

  /**
   * One `progressiveText` read from `offset` (§5.1). The returned cursor is X-Text-Size, moved back
   * over any tail that has to wait for the next read (half a UTF-8 sequence, half a console note,
   * a CR whose LF has not come yet; see ./jenkins/console.ts), so that following `nextOffset` loses
   * and doubles nothing.
   *
   * `more` is X-More-Data, which Jenkins sends only as "true" and omits when the log is complete
   * (gotcha 4). A build whose log file does not exist yet answers size 0 with more=true even when
   * finished: stop following when buildState says building:false and reads make no progress.
   */
  async readConsole(build: BuildRef, offset: number, signal?: AbortSignal): Promise<ConsoleChunk> {
    // One slice for the whole reply: the same decoding as the sliced read, held in memory.
    for await (const slice of this.readConsoleSlices(build, { offset, skip: 0 }, signal, Number.POSITIVE_INFINITY)) {
      return { text: slice.text, nextOffset: slice.next.offset, more: slice.more };
    }
    throw new Error('unreachable: a console read always ends with a last slice');
  }

  /**
   * Streams one progressiveText reply in slices of about `sliceBytes` (reference §5.1), so memory
   * stays bounded however much the build printed since `from.offset`.
   *
   * Mid-reply positions are {offset: the reply's start, skip: body bytes consumed}: Jenkins' body
   * is not the raw log byte for byte (§5.1: lone LFs are sent as CRLF), so the raw offset of a
   * point inside the reply cannot be known; but the body from one `start` is the same on every
   * read (the log only grows), so asking the same `start` again and skipping `skip` bytes resumes
   * exactly. Only the last slice moves the offset, to X-Text-Size minus what it holds back.
   */
  async *readConsoleSlices(build: BuildRef, from: ConsolePosition, signal?: AbortSignal, sliceBytes = CONSOLE_SLICE_BYTES): AsyncGenerator<ConsoleSlice> {
    const { offset, skip } = from;
    for (const [name, v] of [['offset', offset], ['skip', skip]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new ProviderError('invalid_argument', `The console ${name} must be a whole number of bytes >= 0 (a position from the last read), got ${String(v)}.`, false);
      }
    }
    const path = `${buildPath(build.job, build.number)}/logText/progressiveText?start=${offset}`;
    const reply = await this.http.send('GET', path, { signal, accept: 'text/plain' });
    if (reply.status !== 200) throw await this.http.statusError(reply, 'reading the console', () => this.buildNotFound(build));
    const sizeHeader = reply.headers.get('x-text-size');
    const textSize = sizeHeader === null ? NaN : Number(sizeHeader);
    if (!Number.isSafeInteger(textSize) || textSize < 0) {
      await reply.discard();
      throw this.http.error('unexpected_response', `GET ${path}: the reply has no valid X-Text-Size header, so the console cannot be followed.`, false, 200);
    }
    if (textSize < offset) {
      await reply.discard();
      // §5.1: start beyond the end makes Jenkins send the whole log again from 0. Taking that
      // would double every line; an offset past the end means it belongs to another build.
      throw this.http.error(
        'console_offset_beyond_end',
        `The console of ${build.job} #${build.number} is ${textSize} bytes, shorter than the offset ${offset}; the offset does not belong to this build (start again from 0 only if nothing was stored yet).`,
        false,
        200,
      );
    }
    const more = (reply.headers.get('x-more-data') ?? '').toLowerCase() === 'true';
    const reader = reply.stream().getReader();
    let finished = false;
    try {
      let toSkip = skip;
      let consumed = skip;
      let parts: Uint8Array[] = [];
      let buffered = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let bytes = value;
        if (toSkip > 0) {
          if (bytes.length <= toSkip) {
            toSkip -= bytes.length;
            continue;
          }
          bytes = bytes.subarray(toSkip);
          toSkip = 0;
        }
        parts.push(bytes);
        buffered += bytes.length;
        if (buffered < sliceBytes) continue;
        const buf = Buffer.concat(parts, buffered);
        const cut = safeSliceEnd(buf);
        if (cut === 0) {
          parts = [buf];
          continue;
        }
        consumed += cut;
        parts = cut < buf.length ? [buf.subarray(cut)] : [];
        buffered = buf.length - cut;
        yield { text: decodeConsoleSlice(buf.subarray(0, cut)), next: { offset, skip: consumed }, last: false, more };
      }
      finished = true;
      if (toSkip > 0) {
        throw this.http.error(
          'console_changed',
          `The console of ${build.job} #${build.number} from byte ${offset} is shorter than the ${skip} bytes already stored from it; the build's log changed, so it cannot be followed exactly.`,
          false,
          200,
        );
      }
      const { text, nextOffset } = decodeConsoleChunk(Buffer.concat(parts, buffered), offset, textSize, more);
      yield { text, next: { offset: nextOffset, skip: 0 }, last: true, more };
    } finally {
      // A consumer that stops early (or an error) must not leave the connection half read.
      if (!finished) await reader.cancel().catch(() => undefined);
      reader.releaseLock();
    }
  }

  /**
   * The whole plain log (`consoleText`, §5.3: notes stripped, line ends as written), streamed.
   * For reconciling at the end when an exact log is needed (gotcha 5).
   */
  async consoleText(build: BuildRef, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const reply = await this.http.send('GET', `${buildPath(build.job, build.number)}/consoleText`, { signal, accept: 'text/plain' });
    if (reply.status !== 200) throw await this.http.statusError(reply, 'reading the full console', () => this.buildNotFound(build));
    return reply.stream();
  }

  async stages(build: BuildRef, signal?: AbortSignal): Promise<ProviderStage[]> {
    // §6.1: wfapi/describe is the stable, documented stage view (pipeline-rest-api plugin).
    const path = `${buildPath(build.job, build.number)}/wfapi/describe`;
    const reply = await this.http.send('GET', path, { signal });
    const body = await this.json(reply, WfapiDescribe, 'reading the stages', () =>
      this.http.error(
        'stages_unavailable',
        `GET ${path} answered 404: build ${build.job} #${build.number} does not exist, or the Pipeline Stage View plugin (pipeline-rest-api), which serves wfapi, is not installed on Jenkins.`,
        false,
        404,
      ),
    );
    return (body.stages ?? []).map((s) => ({
      name: s.name,
      status: stageStatus(s.status),
      startTimeMillis: s.startTimeMillis ?? 0,
      durationMillis: s.durationMillis ?? 0,
    }));
  }

  async listArtifacts(build: BuildRef, signal?: AbortSignal): Promise<ProviderArtifact[]> {
    const tree = 'artifacts[relativePath,fileName]';
    const reply = await this.http.send('GET', `${buildPath(build.job, build.number)}/api/json?tree=${encodeURIComponent(tree)}`, { signal });
    const body = await this.json(reply, ArtifactsJson, 'listing the artifacts', () => this.buildNotFound(build));
    return (body.artifacts ?? []).map((a) => ({
      relativePath: a.relativePath,
      fileName: a.fileName ?? a.relativePath.slice(a.relativePath.lastIndexOf('/') + 1),
    }));
  }

  async downloadArtifact(build: BuildRef, relativePath: string, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    // §7: artifact/{relativePath}, segments encoded; redirects (resource root URL, external
    // artifact managers) are followed without our Authorization on another host.
    const path = `${buildPath(build.job, build.number)}/artifact/${artifactUrlPath(relativePath)}`;
    const reply = await this.http.send('GET', path, { signal, accept: '*/*', followRedirects: true });
    const notFound = () =>
      this.http.error('artifact_not_found', `Build ${build.job} #${build.number} has no artifact ${JSON.stringify(relativePath)} (404); list them with listArtifacts().`, false, 404);
    if (reply.status !== 200) throw await this.http.statusError(reply, 'downloading an artifact', notFound);
    if (reply.redirectedTo !== null && reply.redirectedTo.split('?')[0] === `${path}/`) {
      // §7: a directory without a trailing "/" redirects to its HTML listing; that is not a file.
      await reply.discard();
      throw this.http.error('artifact_not_found', `${JSON.stringify(relativePath)} is a directory in the archive of ${build.job} #${build.number}, not a file.`, false, 200);
    }
    return reply.stream();
  }

  async stop(build: BuildRef, signal?: AbortSignal): Promise<void> {
    // §8: POST stop answers 302 (to the Referer or the build page), also when the build has
    // already finished; we do not follow it.
    const reply = await this.http.send('POST', `${buildPath(build.job, build.number)}/stop`, { signal });
    if ([200, 204, 302, 303].includes(reply.status)) {
      await reply.discard();
      return;
    }
    throw await this.http.statusError(reply, 'stopping the build', () => this.buildNotFound(build));
  }

  // ---- helpers ----

  private async json<T>(reply: JenkinsReply, schema: z.ZodType<T>, doing: string, notFound?: () => ProviderError): Promise<T> {
    if (reply.status !== 200) throw await this.http.statusError(reply, doing, notFound);
    const raw = await reply.json();
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown shape';
      throw this.http.error('unexpected_response', `${reply.method} ${reply.path} (${doing}): Jenkins' JSON does not have the expected shape (${where}).`, false, 200);
    }
    return parsed.data;
  }

  private async triggerError(job: string, reply: JenkinsReply): Promise<ProviderError> {
    const { status, path } = reply;
    const said = async () => {
      const s = await this.http.whatJenkinsSaid(reply);
      return s ? ` Jenkins said: ${s}` : '';
    };
    switch (status) {
      case 404:
        await reply.discard();
        return this.jobNotFound(job);
      case 400:
        // §2.2 (≥ 2.524): "<job> is not parameterized". Declarative parameters{} exist only after
        // the job's first run (gotcha 9, UNVERIFIED in source).
        return this.http.error(
          'job_not_parameterized',
          `Jenkins refused POST ${path} (400): the job ${job} declares no parameters.${await said()} A declarative pipeline's parameters{} appear only after its first run: run the job once (Build Now), or create it with jenkins/setup_job.py.`,
          false,
          400,
        );
      case 405:
        // §2.2: 405 + Allow: POST answers a GET. We sent a POST, so something turned it into one.
        await reply.discard();
        return this.http.error(
          'method_not_allowed',
          `Jenkins answered 405 to POST ${path}: the request reached Jenkins as a GET, usually because a proxy redirected it (http → https); use the final https URL in JENKINS_URL.`,
          false,
          405,
        );
      case 409:
        // §2.2 (≥ 2.524): "<job> is not buildable" = the job is disabled.
        return this.http.error('job_disabled', `Jenkins refused POST ${path} (409): the job ${job} is disabled.${await said()} Enable it in Jenkins, then run again.`, false, 409);
      case 500: {
        // §2.2: an invalid choice value or a repeated parameter is an uncaught exception → 500
        // with an "Oops" page naming it (and, before 2.524, a disabled or non-parameterized job).
        // Retrying cannot help. A bare 500 that names no exception (a proxy, an overloaded
        // controller, the sandbox's jenkins_flaky) is treated like any other 5xx: retryable, but
        // only after locateByRunId (see ensureTriggered), since it may have queued a build.
        const text = await said();
        if (reply.headers.has('x-error') || /\b[A-Z]\w*(Exception|Error): /.test(text)) {
          return this.http.error(
            'trigger_rejected',
            `Jenkins could not queue ${job} (500).${text} Check the parameter values against the job's choices (checkJob), and that the job is enabled and parameterized.`,
            false,
            500,
          );
        }
        return this.http.error('server_error', `Jenkins answered 500 to POST ${path} without naming an error.${text} The build may or may not have been queued: look for it (locateByRunId) before triggering again.`, true, 500);
      }
      case 302:
        // §2.2: a 302 to the job page without a queue item: a QueueDecisionHandler vetoed the
        // build, or Jenkins is preparing to shut down.
        await reply.discard();
        return this.http.error(
          'trigger_refused',
          `Jenkins did not queue ${job} (302 without a queue item): it may be preparing for shutdown, or a plugin vetoed the build.`,
          false,
          302,
        );
      default:
        return this.http.statusError(reply, 'queueing a build', () => this.jobNotFound(job));
    }
  }

  private jobNotFound(job: string): ProviderError {
    return this.http.error(
      'job_not_found',
      `Jenkins has no job ${JSON.stringify(job)} at ${this.baseUrl}${jobPath(job)}/ (404): create the job (see jenkins/setup_job.py) or fix JENKINS_JOB_NAME (use the full name, "folder/job", for a job in a folder).`,
      false,
      404,
    );
  }

  private buildNotFound(build: BuildRef): ProviderError {
    return this.http.error('build_not_found', `Jenkins has no build ${build.job} #${build.number} (404): the build was deleted (build discarder?) or the job does not exist.`, false, 404);
  }

  private queueItemGone(id: number): ProviderError {
    // Gotcha 1: left items are kept for 5 minutes and lost on restart.
    return this.http.error(
      'queue_item_gone',
      `Jenkins no longer knows queue item ${id} (404): items are forgotten 5 minutes after they leave the queue and when Jenkins restarts. Find the build by its ${RUN_ID_PARAMETER} with findBuildByRunId.`,
      false,
      404,
    );
  }

  private absoluteBuildUrl(job: string, number: number): string {
    return `${this.baseUrl}${buildPath(job, number)}/`;
  }
}

/** The value of parameter `name` in a Run's or queue item's actions (§4, §9), or undefined. */
function parameterValue(actions: z.infer<typeof Actions>, name: string): string | boolean | undefined {
  for (const a of actions ?? []) {
    for (const p of a?.parameters ?? []) {
      if (p?.name === name && (typeof p.value === 'string' || typeof p.value === 'boolean')) return p.value;
    }
  }
  return undefined;
}

/** §6.1 StatusExt; gotcha 11: FAILED, not FAILURE. An unknown future value reads as not executed. */
function stageStatus(s: string): ProviderStageStatus {
  if (s === 'FAILURE') return 'FAILED';
  return (STAGE_STATUSES as readonly string[]).includes(s) ? (s as ProviderStageStatus) : 'NOT_EXECUTED';
}

/** An empty run id would match every build that ran with the parameter's default (""). */
function requireRunId(qaRunId: string): void {
  if (typeof qaRunId !== 'string' || qaRunId.trim() === '') {
    throw new ProviderError('invalid_argument', `A ${RUN_ID_PARAMETER} to look for must be the run's non-empty id (its UUID), got ${JSON.stringify(qaRunId)}.`, false);
  }
}

function queueId(queue: QueueRef): number {
  if (!queue || !Number.isSafeInteger(queue.id) || queue.id < 0) {
    throw new ProviderError('invalid_argument', `A queue item id is a whole number from the trigger's Location header, got ${JSON.stringify(queue?.id)}.`, false);
  }
  return queue.id;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ProviderError('aborted', 'The operation was cancelled.', false, null, { cause: signal.reason }));
    const onAbort = () => {
      clearTimeout(t);
      reject(new ProviderError('aborted', 'The operation was cancelled.', false, null, { cause: signal?.reason }));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
