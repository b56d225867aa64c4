/**
 * The CI/CD page: environment card and deploy form, the selected run's live
 * log and details, the history with its trend and metrics, and (sandbox only)
 * the fault knobs. The selected run and the history filters are in the URL.
 *
 * Needs a QueryClientProvider above it (see docs/frontend.md); CiApiProvider
 * and AnnouncerProvider are optional (same-origin API, silent announcer).
 */
import { useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../../api/client.js';
import { useCiApi } from '../../api/context.js';
import { ciKeys, useEnvironments, useInvalidateRuns, useMe, useRun } from '../../api/hooks.js';
import type { Role } from '../../api/types.js';
import { useUrlFilters, useUrlRun } from '../../lib/urlState.js';
import { ApiErrorBanner, Banner } from '../../components/ci/Banner.js';
import { DeployWeSignPanel } from '../../components/ci/DeployWeSignPanel.js';
import { EnvironmentCard } from '../../components/ci/EnvironmentCard.js';
import { EnvironmentMetrics } from '../../components/ci/EnvironmentMetrics.js';
import { HistoryTable } from '../../components/ci/HistoryTable.js';
import { RunDetails } from '../../components/ci/RunDetails.js';
import { RunLogStream } from '../../components/ci/RunLogStream.js';
import { SandboxPanel } from '../../components/ci/SandboxPanel.js';
import { SignIn } from '../../components/ci/SignIn.js';
import { ThemeSwitcher } from '../../components/ci/ThemeSwitcher.js';

export interface CiPageProps {
  app?: string;
  env?: string;
}

const canDeployRoles: ReadonlySet<Role> = new Set(['deployer', 'admin']);

export function CiPage({ app = 'WeSign', env = 'DevTest' }: CiPageProps) {
  const api = useCiApi();
  const qc = useQueryClient();
  const invalidateRuns = useInvalidateRuns();
  const me = useMe();
  const envs = useEnvironments();
  const [filters, setFilters] = useUrlFilters();
  const [runParam, setRunParam] = useUrlRun();

  const environment = envs.data?.environments.find((e) => e.app === app && e.env === env) ?? envs.data?.environments[0] ?? null;
  const selectedRunId = runParam ?? environment?.active_run_id ?? environment?.last_run?.run_id ?? null;
  const run = useRun(selectedRunId);

  const signedOut =
    (me.error instanceof ApiError && me.error.status === 401) ||
    (envs.error instanceof ApiError && envs.error.status === 401) ||
    (me.data && me.data.auth_mode !== 'none' && !me.data.user);
  if (signedOut) {
    return (
      <SignIn
        reason={me.data?.user === null || me.error ? 'Sign in with your access token to use the CI/CD page.' : 'Your session has ended.'}
        onSignedIn={() => void qc.invalidateQueries({ queryKey: ['ci'] })}
      />
    );
  }

  const user = me.data?.user ?? null;
  const role = user?.role ?? null;
  const canDeploy = role !== null && canDeployRoles.has(role);
  const backendDown = [me.error, envs.error].find((e) => e instanceof ApiError && (e.status === 0 || e.status >= 502));

  const signOut = async () => {
    try {
      await api.logout();
    } finally {
      qc.clear();
      void qc.invalidateQueries({ queryKey: ciKeys.me });
    }
  };
  const onRunEvent = () => {
    if (selectedRunId) void qc.invalidateQueries({ queryKey: ciKeys.run(selectedRunId) });
    invalidateRuns();
  };

  return (
    <div className="ci-page">
      <a className="skip-link" href="#ci-main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar__brand">
          <span className="topbar__logo" aria-hidden="true">
            ◆
          </span>
          <span>
            QA Intelligence <span className="muted">· CI/CD</span>
          </span>
        </div>
        <div className="topbar__right">
          {user ? (
            <span className="user-chip" data-testid="user-chip">
              {user.name} <span className="badge">{user.role}</span>
            </span>
          ) : null}
          {me.data?.auth_mode && me.data.auth_mode !== 'none' && user ? (
            <button type="button" className="button button--small" onClick={() => void signOut()}>
              Sign out
            </button>
          ) : null}
          <ThemeSwitcher />
        </div>
      </header>

      <main id="ci-main" tabIndex={-1}>
        <h1 className="page-title">
          Deploy {app} to {env}
        </h1>
        {me.data?.auth_mode === 'none' ? (
          <Banner kind="warning" title="Authentication is off">
            AUTH_MODE=none: anyone who can open this page acts as a local admin. This is allowed only with the sandbox on a loopback address; set AUTH_MODE=token or jwt
            for a shared server.
          </Banner>
        ) : null}
        {backendDown ? <ApiErrorBanner error={backendDown} what="reach the CI backend" onRetry={() => void qc.invalidateQueries({ queryKey: ['ci'] })} /> : null}
        {!backendDown && envs.error ? <ApiErrorBanner error={envs.error} what="load the environments" onRetry={() => void envs.refetch()} /> : null}

        <div className="layout">
          <div className="layout__side">
            {environment ? (
              <EnvironmentCard
                environment={environment}
                role={role}
                onOpenRun={setRunParam}
                onRollbackStarted={(res) => {
                  setRunParam(res.run_id);
                  invalidateRuns();
                }}
              />
            ) : null}
            <DeployWeSignPanel
              app={app}
              env={env}
              canDeploy={canDeploy}
              disabledReason={role === 'viewer' ? 'Your role is viewer: ask an admin for the deployer role to start runs.' : user ? undefined : 'Sign in to start runs.'}
              activeRunId={environment?.active_run_id ?? null}
              queueLength={environment?.queue_length ?? 0}
              onRunStarted={(res) => setRunParam(res.run_id)}
            />
          </div>
          <div className="layout__main">
            {selectedRunId ? (
              <>
                <RunLogStream key={selectedRunId} runId={selectedRunId} initialStages={run.data?.stages} onStatus={onRunEvent} onEnd={onRunEvent} onStage={() => void qc.invalidateQueries({ queryKey: ciKeys.run(selectedRunId) })} />
                {run.data ? <RunDetails run={run.data} canCancel={canDeploy} onCancelled={onRunEvent} /> : null}
                {run.error ? <ApiErrorBanner error={run.error} what="load the run" onRetry={() => void run.refetch()} /> : null}
              </>
            ) : (
              <section className="card empty-run">
                <h2 className="card__title">No run selected</h2>
                <p className="muted">Press “Deploy {app} to {env}” to start one; its live log opens here. Or pick a run from the history.</p>
              </section>
            )}
          </div>
        </div>

        <HistoryTable filters={filters} onFiltersChange={setFilters} onOpenRun={setRunParam} selectedRunId={selectedRunId} />
        <section className="card">
          <EnvironmentMetrics env={env} app={app} />
        </section>
        <SandboxPanel />
      </main>
    </div>
  );
}

export default CiPage;
