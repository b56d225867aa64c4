/**
 * The sandbox's Jenkins object model (jobs, builds, queue items) and its JSON,
 * shaped like Jenkins' `@Exported` beans (reference §3.1, §4, §6.1, §9).
 * Each render function returns the *full* object: the default-depth view is
 * built explicitly, and `tree=` prunes the full one (./tree.ts).
 */
import type { BuildLog } from './log.js';

export type ParamType = 'string' | 'boolean' | 'choice';
export type Result = 'SUCCESS' | 'UNSTABLE' | 'FAILURE' | 'NOT_BUILT' | 'ABORTED';
/** pipeline-stage-view StatusExt (reference §6.1): FAILED, not FAILURE. */
export type StageStatus = 'NOT_EXECUTED' | 'ABORTED' | 'SUCCESS' | 'IN_PROGRESS' | 'PAUSED_PENDING_INPUT' | 'FAILED' | 'UNSTABLE';

export interface ParamDef {
  name: string;
  type: ParamType;
  defaultValue: string | boolean;
  choices?: string[];
  description: string;
  trim?: boolean;
}

export interface ParamValue {
  name: string;
  type: ParamType;
  value: string | boolean;
}

export interface StageRecord {
  /** Flow node id (a string of digits, as in Jenkins). */
  id: string;
  name: string;
  status: StageStatus;
  startTimeMillis: number;
  durationMillis: number;
  error?: { message: string; type: string };
  /** The step node holding the stage's output (`execution/node/{id}/wfapi/log`). */
  stepId: string;
  /** Lines the stage printed (for the node log endpoint). */
  text: string;
}

export interface BuildRecord {
  number: number;
  queueId: number;
  /** When the build started (Run.timestamp). */
  timestamp: number;
  enqueuedAt: number;
  duration: number;
  result: Result | null;
  building: boolean;
  description: string | null;
  displayName: string | null;
  /** null: no ParametersAction (a build of a job that was not parameterized yet). */
  params: ParamValue[] | null;
  causeUser: string;
  stages: StageRecord[];
  /** Archived artifact paths relative to the archive root, sorted. */
  artifacts: string[];
  log: BuildLog;
  /** Set by stop/term/kill; the emulator watches it. */
  abort: AbortController;
  hardKilled: boolean;
}

export interface JobRecord {
  name: string;
  description: string;
  /** null: the job has no ParametersDefinitionProperty (not parameterized). */
  params: ParamDef[] | null;
  disabled: boolean;
  concurrent: boolean;
  nextBuildNumber: number;
  /** Oldest first. */
  builds: BuildRecord[];
  configXml: string;
}

export type QueueState = 'waiting' | 'blocked' | 'buildable' | 'left';

export interface QueueItemRecord {
  id: number;
  jobName: string;
  params: ParamValue[] | null;
  causeUser: string;
  inQueueSince: number;
  /** End of the quiet period (WaitingItem.timestamp). */
  quietUntil: number;
  state: QueueState;
  cancelled: boolean;
  /** Set once the build exists (after the short executable:null window). */
  buildNumber: number | null;
  leftAt: number | null;
  why: string | null;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export const CLASS = {
  job: 'org.jenkinsci.plugins.workflow.job.WorkflowJob',
  run: 'org.jenkinsci.plugins.workflow.job.WorkflowRun',
  paramsAction: 'hudson.model.ParametersAction',
  causeAction: 'hudson.model.CauseAction',
  userCause: 'hudson.model.Cause$UserIdCause',
  paramsProperty: 'hudson.model.ParametersDefinitionProperty',
  noConcurrent: 'org.jenkinsci.plugins.workflow.job.properties.DisableConcurrentBuildsJobProperty',
} as const;

const PARAM_DEF_CLASS: Record<ParamType, string> = {
  string: 'hudson.model.StringParameterDefinition',
  boolean: 'hudson.model.BooleanParameterDefinition',
  choice: 'hudson.model.ChoiceParameterDefinition',
};
// A choice creates a StringParameterValue (ChoiceParameterDefinition.createValue).
const PARAM_VALUE_CLASS: Record<ParamType, string> = {
  string: 'hudson.model.StringParameterValue',
  boolean: 'hudson.model.BooleanParameterValue',
  choice: 'hudson.model.StringParameterValue',
};

export function jobPath(name: string): string {
  return `job/${name.split('/').map(encodeURIComponent).join('/job/')}/`;
}

export function jobUrl(base: string, name: string): string {
  return `${base}/${jobPath(name)}`;
}

export function buildUrl(base: string, job: string, n: number): string {
  return `${jobUrl(base, job)}${n}/`;
}

export function parametersAction(params: ParamValue[]): Obj {
  return {
    _class: CLASS.paramsAction,
    parameters: params.map((p) => ({ _class: PARAM_VALUE_CLASS[p.type], name: p.name, value: p.value })),
  };
}

export function causeAction(user: string): Obj {
  return {
    _class: CLASS.causeAction,
    causes: [{ _class: CLASS.userCause, shortDescription: `Started by user ${user}`, userId: user, userName: user }],
  };
}

/** `"\nNAME=value"` per parameter (ParameterValue.getShortDescription). */
export function paramsText(params: ParamValue[] | null): string {
  return (params ?? []).map((p) => `\n${p.name}=${String(p.value)}`).join('');
}

export function paramDefJson(d: ParamDef): Obj {
  const out: Obj = {
    _class: PARAM_DEF_CLASS[d.type],
    defaultParameterValue: { _class: PARAM_VALUE_CLASS[d.type], name: d.name, value: d.defaultValue },
    description: d.description,
    name: d.name,
    type: PARAM_DEF_CLASS[d.type].replace('hudson.model.', ''),
  };
  if (d.type === 'choice') out.choices = d.choices ?? [];
  return out;
}

export function jobProperties(job: JobRecord): Obj[] {
  const props: Obj[] = [];
  if (!job.concurrent) props.push({ _class: CLASS.noConcurrent });
  if (job.params) props.push({ _class: CLASS.paramsProperty, parameterDefinitions: job.params.map(paramDefJson) });
  return props;
}

/** Job.getEstimatedDuration: mean of recent completed, non-aborted builds; -1 when there are none. */
export function estimatedDuration(job: JobRecord): number {
  const done = job.builds.filter((b) => !b.building && b.result && b.result !== 'ABORTED').slice(-3);
  if (!done.length) return -1;
  return Math.round(done.reduce((s, b) => s + b.duration, 0) / done.length);
}

export function runJson(base: string, job: JobRecord, b: BuildRecord): Obj {
  const idx = job.builds.indexOf(b);
  const prev = idx > 0 ? job.builds[idx - 1] : undefined;
  const next = idx >= 0 && idx < job.builds.length - 1 ? job.builds[idx + 1] : undefined;
  const ref = (x: BuildRecord | undefined): Json => (x ? { number: x.number, url: buildUrl(base, job.name, x.number) } : null);
  const actions: Json[] = [];
  if (b.params) actions.push(parametersAction(b.params));
  actions.push(causeAction(b.causeUser));
  // Actions that export nothing show as {} or {_class} (reference §4).
  actions.push({}, { _class: 'org.jenkinsci.plugins.workflow.libs.LibrariesAction' }, {}, {});
  actions.push({ _class: 'org.jenkinsci.plugins.pipeline.modeldefinition.actions.RestartDeclarativePipelineAction' }, {});
  actions.push({ _class: 'org.jenkinsci.plugins.workflow.job.views.FlowGraphAction' }, {}, {});
  return {
    _class: CLASS.run,
    actions,
    artifacts: b.artifacts.map((p) => ({
      // displayPath is null when there are more than LIST_CUTOFF (20) artifacts (Run.java).
      displayPath: b.artifacts.length > 20 ? null : p.split('/').pop()!,
      fileName: p.split('/').pop()!,
      relativePath: p,
    })),
    building: b.building,
    description: b.description,
    displayName: b.displayName ?? `#${b.number}`,
    duration: b.duration,
    estimatedDuration: estimatedDuration(job),
    executor: b.building ? { _class: 'hudson.model.OneOffExecutor' } : null,
    fullDisplayName: `${job.name.split('/').join(' » ')} ${b.displayName ?? `#${b.number}`}`,
    id: String(b.number),
    keepLog: false,
    number: b.number,
    queueId: b.queueId,
    result: b.result,
    timestamp: b.timestamp,
    url: buildUrl(base, job.name, b.number),
    changeSets: [],
    culprits: [],
    inProgress: b.building,
    nextBuild: ref(next),
    previousBuild: ref(prev),
  };
}

function colorOf(job: JobRecord): string {
  if (job.disabled) return 'disabled';
  const last = job.builds[job.builds.length - 1];
  const lastDone = [...job.builds].reverse().find((b) => !b.building);
  const base = !lastDone ? 'notbuilt' : lastDone.result === 'SUCCESS' ? 'blue' : lastDone.result === 'UNSTABLE' ? 'yellow' : lastDone.result === 'ABORTED' ? 'aborted' : 'red';
  return last?.building ? `${base}_anime` : base;
}

export function buildRef(base: string, job: JobRecord, b: BuildRecord | undefined): Json {
  return b ? { _class: CLASS.run, number: b.number, url: buildUrl(base, job.name, b.number) } : null;
}

/**
 * Full job JSON. `builds` holds whole Run objects here so that `tree=builds[…,actions[parameters[…]]]`
 * works; the default view (jobJsonDefault) reduces them to {_class,number,url} as Jenkins does.
 * `builds` is newest first and at most 100 (Job.getNewBuilds, reference §9).
 */
export function jobJson(base: string, job: JobRecord, queued: QueueItemRecord | undefined, queueJson: (q: QueueItemRecord) => Record<string, unknown>): Obj {
  const newestFirst = [...job.builds].reverse();
  const find = (pred: (b: BuildRecord) => boolean) => newestFirst.find(pred);
  const done = (b: BuildRecord) => !b.building;
  const props = jobProperties(job);
  const name = job.name.split('/').pop()!;
  return {
    _class: CLASS.job,
    actions: [{}, {}, ...props.filter((p) => p._class === CLASS.paramsProperty), {}, { _class: 'com.cloudbees.plugins.credentials.ViewCredentialsAction' }],
    description: job.description,
    displayName: name,
    displayNameOrNull: null,
    fullDisplayName: job.name.split('/').join(' » '),
    fullName: job.name,
    name,
    url: jobUrl(base, job.name),
    buildable: !job.disabled,
    builds: newestFirst.slice(0, 100).map((b) => runJson(base, job, b)),
    allBuilds: newestFirst.map((b) => runJson(base, job, b)),
    color: colorOf(job),
    firstBuild: buildRef(base, job, job.builds[0]),
    healthReport: [],
    inQueue: !!queued,
    keepDependencies: false,
    lastBuild: buildRef(base, job, newestFirst[0]),
    lastCompletedBuild: buildRef(base, job, find(done)),
    lastFailedBuild: buildRef(base, job, find((b) => done(b) && b.result === 'FAILURE')),
    lastStableBuild: buildRef(base, job, find((b) => done(b) && b.result === 'SUCCESS')),
    lastSuccessfulBuild: buildRef(base, job, find((b) => done(b) && (b.result === 'SUCCESS' || b.result === 'UNSTABLE'))),
    lastUnstableBuild: buildRef(base, job, find((b) => done(b) && b.result === 'UNSTABLE')),
    lastUnsuccessfulBuild: buildRef(base, job, find((b) => done(b) && b.result !== 'SUCCESS')),
    nextBuildNumber: job.nextBuildNumber,
    property: props,
    queueItem: queued ? (queueJson(queued) as Obj) : null,
    concurrentBuild: job.concurrent,
    disabled: job.disabled,
    resumeBlocked: false,
  };
}

/** Default depth: nested Run objects show only their visibility-2 properties (number, url). */
export function jobJsonDefault(full: Obj): Obj {
  const builds = (full.builds as Obj[]).map((b) => ({ _class: b._class!, number: b.number!, url: b.url! }));
  const { allBuilds: _hidden, ...rest } = full;
  return { ...rest, builds };
}
