/** A real run summary and the notification event built from it, for the notifier tests. */
import { aggregate, type Summary } from '../../src/ci/report_aggregator.js';
import type { NotificationEvent } from '../../src/ci/notify.js';
import { input, makeRunDir } from '../reports/helpers.js';

/** Obviously fake secrets, as the team rules ask. */
export const FAKE_SECRET = 'fake-api-token-example-0001';
export const RUN_URL = 'http://qa.example/ci/runs/7b0e4a52-4c1e-4a57-9a51-2f1f3c0d9e11';

export async function failedRunEvent(): Promise<NotificationEvent> {
  const summary: Summary = await aggregate(input(makeRunDir({ api: 'fail', e2e: 'fixture' })));
  const base = `${RUN_URL}/artifacts`;
  return {
    summary,
    run: {
      run_id: summary.run.run_id,
      app: 'WeSign',
      env: 'DevTest',
      kind: 'deploy',
      status: summary.verdict.status,
      // A reason that carries a secret, as an unlucky error message might.
      reason: `score: Run Score ${summary.score.value} is below the threshold 80 (Jenkins said token=${FAKE_SECRET})`,
      initiator: 'dana@example.com',
      duration_ms: 8 * 60_000 + 5_000,
      run_url: RUN_URL,
      artifact_urls: Object.fromEntries(summary.artifacts.map((a) => [a.path, `${base}/${a.path}`]).concat([['summary.json', `${base}/summary.json`]])),
    },
  };
}
