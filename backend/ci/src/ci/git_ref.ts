/**
 * A safe git ref (DESIGN §6): it ends up on git and PowerShell command lines on
 * Windows, so we allow only what `git check-ref-format` allows AND nothing a
 * shell (cmd, PowerShell, sh) treats specially.
 *
 * No imports on purpose: the page imports this same file, so the form refuses
 * exactly what the API refuses, with the same words.
 */
export const GIT_REF_RULE =
  'letters, digits and . _ - / only; 1–200 characters; must not start with - or /, end with / . or .lock, or contain .. // @{';
const GIT_REF_CHARS = /^[A-Za-z0-9._\-/]+$/;
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
