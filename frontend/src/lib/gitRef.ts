/**
 * Client copy of the backend's git ref rule (backend/ci/src/ci/models.ts,
 * `gitRefProblem` / `GIT_REF_RULE`), so the form refuses what the backend
 * refuses before a request is sent. gitRef.test.ts runs both against the same
 * inputs, so a change on either side without the other fails the tests.
 */
export const GIT_REF_RULE =
  'letters, digits and . _ - / only; 1–200 characters; must not start with - or /, end with / . or .lock, or contain .. // @{';
const GIT_REF_CHARS = /^[A-Za-z0-9._\-/]+$/;

/** null when the ref is acceptable, else what is wrong with it ("contains .."). */
export function gitRefProblem(ref: string): string | null {
  if (ref.length === 0) return 'is empty';
  if (ref.length > 200) return 'is longer than 200 characters';
  if (!GIT_REF_CHARS.test(ref)) return 'contains a character outside letters, digits and . _ - /';
  if (ref.startsWith('-')) return 'starts with - (git would read it as an option)';
  if (ref.startsWith('/') || ref.endsWith('/')) return 'starts or ends with /';
  if (ref.endsWith('.') || ref.endsWith('.lock')) return 'ends with . or .lock';
  if (ref.includes('..')) return 'contains ..';
  if (ref.includes('//')) return 'contains //';
  if (ref.split('/').some((part) => part.startsWith('.'))) return 'has a path component starting with .';
  return null;
}
