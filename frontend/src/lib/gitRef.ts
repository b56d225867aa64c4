/**
 * The backend's git ref rule itself (backend/ci/src/ci/git_ref.ts, a module
 * without imports), so the form refuses what the backend refuses before a
 * request is sent, in the same words.
 */
export { GIT_REF_RULE, gitRefProblem } from '../../../backend/ci/src/ci/git_ref.js';
