/** What an existing QA Intelligence app imports to mount the CI/CD components. */
export { CiApp } from './App.js';
export { CiPage } from './pages/ci/index.js';
export { DeployWeSignPanel } from './components/ci/DeployWeSignPanel.js';
export { RunLogStream } from './components/ci/RunLogStream.js';
export { RunDetails } from './components/ci/RunDetails.js';
export { HistoryTable } from './components/ci/HistoryTable.js';
export { EnvironmentCard } from './components/ci/EnvironmentCard.js';
export { SandboxPanel } from './components/ci/SandboxPanel.js';
export { SignIn } from './components/ci/SignIn.js';
export { StageChips } from './components/ci/StageChips.js';
export { ThemeSwitcher } from './components/ci/ThemeSwitcher.js';
export { CiApiProvider, useCiApi } from './api/context.js';
export { ApiClient, ApiError } from './api/client.js';
export { createCiQueryClient, ciKeys } from './api/hooks.js';
export { AnnouncerProvider } from './lib/announce.js';
export { useUrlFilters, useUrlRun } from './lib/urlState.js';
export type * from './api/types.js';
