/**
 * The sandbox's fault knobs, clearly marked as such. Rendered only when
 * GET /ci/sandbox answers (it is 404 against a real Jenkins). Faults apply to
 * the runs that start after the change.
 */
import { useEffect, useId, useState } from 'react';
import { useSandbox, useSetFaults } from '../../api/hooks.js';
import type { SandboxFaults } from '../../api/types.js';
import { ApiErrorBanner } from './Banner.js';

const SWITCHES: Array<{ key: keyof SandboxFaults; label: string; hint: string }> = [
  { key: 'smoke_fail', label: 'Smoke fails', hint: 'the new version fails its health checks: auto-rollback runs' },
  { key: 'preflight_fail', label: 'Preflight fails', hint: 'DevTest unreachable on 5986' },
  { key: 'build_fail', label: 'Build fails', hint: 'dotnet test reports failures' },
  { key: 'api_fail', label: 'API tests fail', hint: 'a Newman assertion fails' },
  { key: 'e2e_fail', label: 'E2E tests fail', hint: 'a pytest test fails' },
  { key: 'secret_leak', label: 'Secret leaks into the log', hint: 'masked, and the secrets gate fails the run' },
  { key: 'rollback_fail', label: 'Rollback fails', hint: 'with Smoke fails: the restored version fails re-smoke too' },
];

export function SandboxPanel() {
  const uid = useId();
  const q = useSandbox();
  const set = useSetFaults();
  const [flaky, setFlaky] = useState('0');
  const [down, setDown] = useState('0');
  const [flood, setFlood] = useState('0');
  const faults = q.data?.faults;
  useEffect(() => {
    if (!faults) return;
    setFlaky(String(faults.jenkins_flaky));
    setDown(String(faults.jenkins_down_s));
    setFlood(String(faults.console_flood_mb ?? 0));
  }, [faults?.jenkins_flaky, faults?.jenkins_down_s, faults?.console_flood_mb]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!q.data) return q.error ? <ApiErrorBanner error={q.error} what="read the sandbox settings" /> : null;
  const info = q.data;
  const hasFlood = 'console_flood_mb' in info.faults;
  const numbersValid =
    Number(flaky) >= 0 && Number(flaky) <= 1 && Number.isInteger(Number(down)) && Number(down) >= 0 && (!hasFlood || (Number(flood) >= 0 && Number(flood) <= 200));

  return (
    <section className="card sandbox-panel" aria-labelledby={`${uid}-h`} data-testid="sandbox-panel">
      <div className="card__header">
        <h2 id={`${uid}-h`} className="card__title">
          <span className="badge badge--sandbox">SANDBOX</span> Fault injection
        </h2>
      </div>
      <p>
        This backend runs the built-in sandbox: a simulated Jenkins at <a href={info.jenkins_url} target="_blank" rel="noopener noreferrer">{info.jenkins_url}</a> and a simulated DevTest at{' '}
        <a href={info.devtest_url} target="_blank" rel="noopener noreferrer">
          {info.devtest_url}
        </a>
        . No real server is touched. Faults apply to runs started after the change.
      </p>
      <fieldset className="fault-list" aria-busy={set.isPending}>
        <legend>Induce a failure</legend>
        {SWITCHES.filter((s) => s.key in info.faults).map((s) => (
          <div key={s.key} className="field field--inline">
            <input
              id={`${uid}-${s.key}`}
              type="checkbox"
              role="switch"
              className="switch"
              // Optimistic: show the new value while the PUT is in flight, the server's once it answers.
              checked={Boolean(set.isPending && set.variables && s.key in set.variables ? set.variables[s.key] : info.faults[s.key])}
              onChange={(e) => set.mutate({ [s.key]: e.target.checked })}
              aria-describedby={`${uid}-${s.key}-hint`}
              data-fault={s.key}
            />
            <label htmlFor={`${uid}-${s.key}`}>{s.label}</label>
            <p id={`${uid}-${s.key}-hint`} className="field__hint">
              {s.hint}
            </p>
          </div>
        ))}
      </fieldset>
      <form
        className="fault-numbers"
        onSubmit={(e) => {
          e.preventDefault();
          if (numbersValid) set.mutate({ jenkins_flaky: Number(flaky), jenkins_down_s: Number(down), ...(hasFlood ? { console_flood_mb: Number(flood) } : {}) });
        }}
      >
        <div className="field">
          <label htmlFor={`${uid}-flaky`}>Jenkins flakiness (share of API calls answered 5xx, 0–1)</label>
          <input id={`${uid}-flaky`} type="number" min={0} max={1} step={0.05} value={flaky} onChange={(e) => setFlaky(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-down`}>Jenkins down for (seconds from now)</label>
          <input id={`${uid}-down`} type="number" min={0} step={1} value={down} onChange={(e) => setDown(e.target.value)} />
        </div>
        {hasFlood ? (
          <div className="field">
            <label htmlFor={`${uid}-flood`}>Console flood (MB the build prints at once, 0–200)</label>
            <input id={`${uid}-flood`} type="number" min={0} max={200} step={1} value={flood} onChange={(e) => setFlood(e.target.value)} />
          </div>
        ) : null}
        <div className="filters__actions">
          <button type="submit" className="button button--small" disabled={!numbersValid || set.isPending}>
            Apply
          </button>
          <button
            type="button"
            className="button button--small"
            onClick={() =>
              set.mutate({
                smoke_fail: false,
                preflight_fail: false,
                build_fail: false,
                api_fail: false,
                e2e_fail: false,
                secret_leak: false,
                ...('rollback_fail' in info.faults ? { rollback_fail: false } : {}),
                jenkins_flaky: 0,
                jenkins_down_s: 0,
                ...(hasFlood ? { console_flood_mb: 0 } : {}),
              })
            }
          >
            Clear all faults
          </button>
        </div>
      </form>
      {set.error ? <ApiErrorBanner error={set.error} what="change the faults" /> : null}
    </section>
  );
}
