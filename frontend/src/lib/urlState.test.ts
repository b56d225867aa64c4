import { describe, expect, it } from 'vitest';
import { filtersFromSearch, searchWithFilters } from './urlState.js';

describe('history filters in the URL', () => {
  it('reads known filters and drops unknown or malformed values', () => {
    expect(filtersFromSearch('?status=failed&kind=rollback&env=DevTest&initiator=alice&from=2026-12-01&to=2026-12-31&junk=1')).toEqual({
      status: 'failed',
      kind: 'rollback',
      env: 'DevTest',
      initiator: 'alice',
      from: '2026-12-01',
      to: '2026-12-31',
    });
    expect(filtersFromSearch('?status=exploded&kind=nope&from=yesterday')).toEqual({});
  });
  it('writes filters while keeping other keys such as the selected run', () => {
    expect(searchWithFilters('?run=abc&status=success', { kind: 'deploy' })).toBe('?run=abc&kind=deploy');
    expect(searchWithFilters('?status=success', {})).toBe('');
  });
});
