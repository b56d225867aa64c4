/**
 * Stage chips: one per pipeline stage, in pipeline order, showing
 * pending/running/success/failure/skipped/rolled back (with a glyph and text,
 * never colour alone). With onSelect they are buttons that jump to the
 * stage's log section.
 */
import type { Stage, StageId, StageStatus } from '../../api/types.js';
import { STAGE_STATUS_LABEL, STATUS_GLYPH } from '../../lib/format.js';

export interface StageChipsProps {
  stages: ReadonlyArray<Pick<Stage, 'id' | 'name' | 'status'>>;
  onSelect?: (id: StageId) => void;
  label?: string;
}

export const STAGE_NAMES: Record<StageId, string> = {
  checkout: 'Checkout',
  preflight: 'Preflight',
  build: 'Build',
  package: 'Package',
  config: 'Config',
  transfer: 'Transfer',
  deploy: 'Deploy',
  smoke: 'Smoke',
  rollback: 'Rollback',
  api: 'API tests',
  e2e: 'E2E tests',
  report: 'Report',
  notify: 'Notify',
};

export function stageLabel(id: StageId): string {
  return STAGE_NAMES[id] ?? id;
}

export function StageChip({ id, status, onSelect }: { id: StageId; status: StageStatus; onSelect?: (id: StageId) => void }) {
  const name = stageLabel(id);
  const content = (
    <>
      <span className="chip__glyph" aria-hidden="true">
        {STATUS_GLYPH[status]}
      </span>
      <span className="chip__name">{name}</span>
      <span className="visually-hidden">: {STAGE_STATUS_LABEL[status]}</span>
    </>
  );
  const className = `chip chip--${status}`;
  return onSelect ? (
    <button type="button" className={className} data-stage={id} data-status={status} onClick={() => onSelect(id)} title={`${name}: ${STAGE_STATUS_LABEL[status]} — show its log`}>
      {content}
    </button>
  ) : (
    <span className={className} data-stage={id} data-status={status} title={`${name}: ${STAGE_STATUS_LABEL[status]}`}>
      {content}
    </span>
  );
}

export function StageChips({ stages, onSelect, label = 'Pipeline stages' }: StageChipsProps) {
  return (
    <ol className="chips" aria-label={label}>
      {stages.map((s) => (
        <li key={s.id}>
          <StageChip id={s.id} status={s.status} onSelect={onSelect} />
        </li>
      ))}
    </ol>
  );
}
