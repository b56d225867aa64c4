/**
 * Process bootstrap: read config, build the app, listen, close gracefully.
 * `npm start` runs this file (through tsx, so it works the same on Windows).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './config.js';
import { buildApp } from './app.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function main() {
  let config;
  try {
    // backend/ci/.env, then the repository root .env; real environment variables win.
    config = loadConfig(process.env, [path.resolve(here, '../.env'), path.resolve(here, '../../../.env')]);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { app, services } = await buildApp(config);
  const address = await app.listen({ port: config.port, host: config.host });
  const lines = [
    `QA Intelligence CI/CD listening on ${address}`,
    `  page:      ${address}/`,
    `  API docs:  ${address}/docs`,
    services.sandbox
      ? `  Jenkins:   SANDBOX at ${services.sandbox.jenkinsUrl} (JENKINS_URL is not set; simulated DevTest at ${services.sandbox.devtestUrl})`
      : `  Jenkins:   ${config.jenkins.url}`,
    `  database:  ${services.db.kind === 'sqlite' ? path.resolve(config.databaseUrl) : 'PostgreSQL'}`,
    `  artifacts: ${config.artifactStore}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    services.log.info({ signal }, 'shutting down; running runs resume at the next start');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await app.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`Failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
