import { describe, expect, it } from 'vitest';
import { CreateRunBody, gitRefProblem } from '../../src/ci/models.js';

// Injection strings of every shell kind that could reach git, cmd.exe or PowerShell on the Jenkins agent.
export const HOSTILE_REFS = [
  'main; rm -rf /', 'main && calc', 'main || calc', 'main | whoami', '$(whoami)', '`whoami`', 'main`n', '${env:PATH}', '$env:DEVTEST_PASSWORD',
  '%PATH%', '%DEVTEST_PASSWORD%', 'main & del C:\\', '^& calc', 'main > out.txt', 'main < in', "main' ; Remove-Item C:\\ -Recurse; '", 'main"; calc; "',
  '-Force', '--upload-pack=touch /tmp/x', '-c core.sshCommand=calc', '../../etc/passwd', 'a..b', 'feature/../main', 'main\n', 'main\r\nInvoke-Expression x',
  'main\u0000', 'mаin' /* Cyrillic a */, 'main\u202e', 'feature/ü', 'main@{0}', 'main.lock', 'main/', '/main', '.hidden', 'a//b', 'a b', 'a\tb', 'x'.repeat(201),
  '', '@(calc)', '[char]65', 'main#comment', 'main;', 'main*', 'main?', 'main[0]', 'main~1', 'main^2', 'main:foo', "main'", 'main"', 'main\\x', '(calc)', '{calc}',
];

describe('branch_or_tag validation', () => {
  it.each(['main', 'develop', 'release/2026.12', 'feature/JIRA-123_fix', 'v1.2.3', 'hotfix-1'])('accepts %s', (ref) => {
    expect(gitRefProblem(ref)).toBeNull();
  });

  it.each(HOSTILE_REFS)('refuses %j with a message naming the rule', (ref) => {
    const r = CreateRunBody.safeParse({ branch_or_tag: ref });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues[0]!.message).toMatch(/branch_or_tag .*; allowed: letters, digits/);
  });

  it('fills the SPEC defaults', () => {
    expect(CreateRunBody.parse({})).toEqual({ app: 'WeSign', env: 'DevTest', branch_or_tag: 'main', dry_run: false, test_suite: 'full', provider: 'jenkins' });
  });

  it('refuses unknown fields rather than ignoring them', () => {
    expect(CreateRunBody.safeParse({ branch: 'main' }).success).toBe(false);
  });
});
