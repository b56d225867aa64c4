import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { StageStatus } from '../../api/types.js';
import { stage } from '../../test/fixtures.js';
import { StageChips } from './StageChips.js';

const statuses: Array<[Parameters<typeof stage>[0], StageStatus, string]> = [
  ['checkout', 'success', 'success'],
  ['build', 'running', 'running'],
  ['smoke', 'failure', 'failure'],
  ['rollback', 'rolled_back', 'rolled back'],
  ['api', 'skipped', 'skipped'],
  ['e2e', 'pending', 'pending'],
];

describe('StageChips', () => {
  it('shows every stage status in text and as a class, not by colour alone', () => {
    render(<StageChips stages={statuses.map(([id, st]) => stage(id, st))} />);
    const list = screen.getByRole('list', { name: 'Pipeline stages' });
    const items = within(list).getAllByRole('listitem');
    expect(items).toHaveLength(statuses.length);
    statuses.forEach(([id, st, label], i) => {
      const chip = items[i]!.firstElementChild!;
      expect(chip).toHaveAttribute('data-stage', id);
      expect(chip).toHaveClass(`chip--${st}`);
      expect(chip).toHaveTextContent(`: ${label}`);
    });
  });

  it('keeps pipeline order and, with onSelect, are buttons that report the stage', async () => {
    const onSelect = vi.fn();
    render(<StageChips stages={[stage('checkout', 'success'), stage('build', 'running')]} onSelect={onSelect} />);
    const buttons = screen.getAllByRole('button');
    expect(buttons.map((b) => b.getAttribute('data-stage'))).toEqual(['checkout', 'build']);
    await userEvent.setup().click(screen.getByRole('button', { name: /Build.*running/ }));
    expect(onSelect).toHaveBeenCalledWith('build');
  });
});
