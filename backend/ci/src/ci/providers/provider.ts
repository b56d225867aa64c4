/**
 * The seam between the orchestrator and a CI server. `jenkins_client.ts` is the
 * one implementation today; the sandbox is a Jenkins-compatible *server*, so it
 * is reached through this same client (DESIGN §1).
 *
 * Error contract: every method throws `ProviderError` (from ../errors.ts).
 * `retryable: true` means a transient failure (network, 5xx, timeout): the
 * caller retries with backoff until its own deadline. `retryable: false` means
 * the request itself is wrong (404 job, 401/403, missing parameter) and retrying
 * will not help; the message says how to fix it.
 *
 * Cancellation: methods accept an AbortSignal; an aborted call rejects promptly.
 */

export interface JobParameters {
  BRANCH_OR_TAG: string;
  DRY_RUN: boolean;
  TEST_SUITE: 'full' | 'api' | 'e2e' | 'none';
  ACTION: 'deploy' | 'rollback';
  ROLLBACK_TO: string;
  QA_RUN_ID: string;
}

export interface BuildRef {
  job: string;
  number: number;
  /** Absolute URL as the CI server reports it (display only; requests use the configured base URL). */
  url: string;
}

export interface BuildState {
  building: boolean;
  /** Jenkins Result: SUCCESS, UNSTABLE, FAILURE, NOT_BUILT, ABORTED; null while unknown. */
  result: string | null;
  timestampMs: number;
  durationMs: number;
  description: string | null;
  /** The build's parameters as Jenkins recorded them (ParametersAction). */
  parameters: Record<string, string | boolean>;
}

export interface ConsoleChunk {
  /** Text with console notes stripped and CRLF normalised to LF. */
  text: string;
  /** Cursor to pass next time (X-Text-Size). */
  nextOffset: number;
  /** X-More-Data: the build is still writing. */
  more: boolean;
}

/** Where a console read starts: a progressiveText `start` and body bytes of that reply to skip. */
export interface ConsolePosition {
  offset: number;
  /** Body bytes of the reply from `offset` that are already stored (a reply read in slices). */
  skip: number;
}

/** One slice of a progressiveText reply, ending where nothing is lost by decoding it now. */
export interface ConsoleSlice {
  /** Text with console notes stripped and CRLF normalised to LF. */
  text: string;
  /** Where the next read starts once this slice is stored. */
  next: ConsolePosition;
  /** The reply's last slice (`next.skip` is 0 then). */
  last: boolean;
  /** X-More-Data of the reply: the build is still writing. */
  more: boolean;
}

export type ProviderStageStatus = 'NOT_EXECUTED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED' | 'ABORTED' | 'UNSTABLE' | 'PAUSED_PENDING_INPUT' | 'NOT_BUILT' | 'SKIPPED';

export interface ProviderStage {
  /** Jenkins stage name, e.g. "Backup & Deploy". */
  name: string;
  status: ProviderStageStatus;
  startTimeMillis: number;
  durationMillis: number;
}

export interface ProviderArtifact {
  /** Path relative to the build's archive root, e.g. "reports/newman.html". */
  relativePath: string;
  fileName: string;
}

export interface QueueRef {
  /** Queue item id from the Location header. */
  id: number;
}

export interface QueueState {
  /** Set once the queue item has left the queue and a build started. */
  build: BuildRef | null;
  cancelled: boolean;
  /** Jenkins' `why` (quiet period, blocked by a running build, …). */
  why: string | null;
}

export type RunLocation = { kind: 'build'; build: BuildRef } | { kind: 'queued'; queue: QueueRef } | null;

export interface JobCheck {
  exists: boolean;
  buildable: boolean;
  /** Parameter names the job declares (empty until its first run, for declarative pipelines). */
  parameters: string[];
}

export interface CiProvider {
  readonly name: 'jenkins';
  /** The base URL requests go to (never contains credentials). */
  readonly baseUrl: string;

  /** Jenkins answers and authenticates us; resolves with its version header, if any. */
  ping(signal?: AbortSignal): Promise<{ version: string | null }>;
  /** What the job looks like; exists:false for a 404. */
  checkJob(job: string, signal?: AbortSignal): Promise<JobCheck>;
  /** Newest-first scan of recent builds for one whose QA_RUN_ID parameter equals qaRunId. */
  findBuildByRunId(job: string, qaRunId: string, signal?: AbortSignal): Promise<BuildRef | null>;
  /** A still-queued item whose QA_RUN_ID parameter equals qaRunId (a trigger whose answer we lost). */
  findQueuedByRunId(job: string, qaRunId: string, signal?: AbortSignal): Promise<QueueRef | null>;
  /**
   * Where the build of a run is: queue first, then builds, then builds again
   * after a short settle (an item leaving the queue is briefly in neither).
   */
  locateByRunId(job: string, qaRunId: string, signal?: AbortSignal): Promise<RunLocation>;
  /** Triggers the run's build unless it is already queued or started (looks first, every time). */
  ensureTriggered(job: string, params: JobParameters, signal?: AbortSignal): Promise<NonNullable<RunLocation>>;
  /** POST buildWithParameters; resolves with the queue item. */
  trigger(job: string, params: JobParameters, signal?: AbortSignal): Promise<QueueRef>;
  /** One look at a queue item. 404 (expired) → ProviderError code 'queue_item_gone'. */
  queueState(queue: QueueRef, signal?: AbortSignal): Promise<QueueState>;
  cancelQueueItem(queue: QueueRef, signal?: AbortSignal): Promise<void>;
  buildState(build: BuildRef, signal?: AbortSignal): Promise<BuildState>;
  /** progressiveText from `offset`, read whole (small replies, tools and tests). */
  readConsole(build: BuildRef, offset: number, signal?: AbortSignal): Promise<ConsoleChunk>;
  /**
   * progressiveText from `from`, streamed in slices of about `sliceBytes`, so a console of any
   * size is read in bounded memory and each slice can be stored with its own position.
   */
  readConsoleSlices(build: BuildRef, from: ConsolePosition, signal?: AbortSignal, sliceBytes?: number): AsyncGenerator<ConsoleSlice>;
  /** wfapi/describe stages in execution order. */
  stages(build: BuildRef, signal?: AbortSignal): Promise<ProviderStage[]>;
  listArtifacts(build: BuildRef, signal?: AbortSignal): Promise<ProviderArtifact[]>;
  /** Streams one archived artifact; the caller writes it to disk. */
  downloadArtifact(build: BuildRef, relativePath: string, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  /** POST stop; resolves when Jenkins accepted it (the build becomes ABORTED shortly after). */
  stop(build: BuildRef, signal?: AbortSignal): Promise<void>;
}
