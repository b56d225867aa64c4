import { describe, expect, it } from 'vitest';
// The backend's own rule (the module its API model validates with), imported here to prove the page judges alike.
import { GIT_REF_RULE as BACKEND_RULE, gitRefProblem as backendProblem } from '../../../backend/ci/src/ci/git_ref.js';
import { GIT_REF_RULE, gitRefProblem } from './gitRef.js';

const SAMPLES = [
  'main', 'release/1.4', 'feature/ABC-12_fix', 'v1.2.3', 'hotfix-2026.12', 'a', 'x'.repeat(200), 'x'.repeat(201),
  '', ' main', 'main ', 'feat;rm -rf', 'a..b', 'a//b', '-main', '/main', 'main/', 'main.', 'main.lock', 'feat/.hidden',
  '.hidden', 'a@{1}', '$(calc)', 'a|b', 'a&b', "it's", 'a`b', 'ü-branch', 'a\\b', 'a~1', 'a^', 'a:b', 'a*b', 'a?b', 'a[b',
];

describe('the client branch rule', () => {
  it('states the same rule text as the backend', () => {
    expect(GIT_REF_RULE).toBe(BACKEND_RULE);
  });
  it.each(SAMPLES)('judges %j exactly as the backend does', (ref) => {
    expect(gitRefProblem(ref)).toBe(backendProblem(ref));
  });
  it('accepts main and refuses shell metacharacters', () => {
    expect(gitRefProblem('main')).toBeNull();
    expect(gitRefProblem('main;calc')).toMatch(/character outside/);
  });
});
