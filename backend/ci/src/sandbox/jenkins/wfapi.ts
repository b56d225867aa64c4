/** The pipeline-stage-view REST shapes (`wfapi`) of a sandbox build. */
import { jobPathOnly } from './http_util.js';
import type { BuildRecord, JobRecord, StageRecord } from './model.js';

/** pipeline-stage-view RunExt (ref §6.1; STAGEVIEW rest-api external/RunExt.java, StageNodeExt.java). */
export function describeRun(job: JobRecord, b: BuildRecord, fullStages = false): unknown {
  const now = Date.now();
  const status = b.building ? 'IN_PROGRESS' : { SUCCESS: 'SUCCESS', FAILURE: 'FAILED', ABORTED: 'ABORTED', UNSTABLE: 'UNSTABLE', NOT_BUILT: 'NOT_EXECUTED' }[b.result ?? 'NOT_BUILT'];
  const end = b.building ? now : b.timestamp + b.duration;
  const base = `/${jobPathOnly(job.name)}${b.number}`;
  const stages = [...b.stages]
    .sort((x, y) => x.startTimeMillis - y.startTimeMillis || Number(x.id) - Number(y.id))
    .map((s) => {
      const out: Record<string, unknown> = {
        _links: { self: { href: `${base}/execution/node/${s.id}/wfapi/describe` } },
        id: s.id,
        name: s.name,
        execNode: '',
        status: s.status,
        startTimeMillis: s.startTimeMillis,
        durationMillis: s.status === 'IN_PROGRESS' ? Math.max(0, now - s.startTimeMillis) : s.durationMillis,
        pauseDurationMillis: 0,
      };
      if (s.error) out.error = s.error;
      if (fullStages) out.stageFlowNodes = [stepNode(base, s)];
      return out;
    });
  return {
    _links: { self: { href: `${base}/wfapi/describe` }, artifacts: { href: `${base}/wfapi/artifacts` } },
    id: String(b.number),
    name: b.displayName ?? `#${b.number}`,
    status,
    startTimeMillis: b.timestamp,
    endTimeMillis: end,
    durationMillis: Math.max(0, end - b.timestamp),
    queueDurationMillis: Math.max(0, b.timestamp - b.enqueuedAt),
    pauseDurationMillis: 0,
    stages,
  };
}

/** The one step node of a stage (FlowNodeExt with parentNodes), shown with fullStages=true. */
export function stepNode(base: string, s: StageRecord): unknown {
  return {
    _links: { self: { href: `${base}/execution/node/${s.stepId}/wfapi/describe` }, log: { href: `${base}/execution/node/${s.stepId}/wfapi/log` } },
    id: s.stepId,
    name: 'Windows PowerShell Script',
    execNode: '',
    status: s.status,
    parameterDescription: `scripts/ps stage ${s.name}`,
    startTimeMillis: s.startTimeMillis,
    durationMillis: s.durationMillis,
    pauseDurationMillis: 0,
    parentNodes: [s.id],
  };
}

