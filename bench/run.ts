/**
 * `npm run bench` (from the root or backend/ci): every benchmark, one after another, each
 * printing its figures beside the baseline it is measured against in the same run.
 *
 *   npm run bench                 all, full size (~10 min on 2 shared cores)
 *   npm run bench -- --quick      all, small sizes (a smoke run, ~2 min)
 *   npm run bench -- latency api  only those (latency, ingest, fanout, api, e2e)
 *   npm run bench -- --out=r.json also write the results as JSON
 *
 * The root script (`npm run bench -w backend/ci`) has no `--` of its own, so from the root npm
 * takes `--quick` / `--out` as its own config; they then arrive as npm_config_quick / _out and
 * are honoured from there too.
 * Figures are wall-clock on a shared machine: quote ratios and medians, not single numbers.
 * docs/benchmarks.md records a run and explains each figure.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchResult } from './lib/common.js';
import { latencyBench } from './latency.js';
import { ingestBench } from './ingest.js';
import { fanoutBench } from './fanout.js';
import { apiBench } from './api.js';
import { e2eBench } from './e2e.js';

const all: Record<string, (o: BenchOptions) => Promise<BenchResult>> = {
  latency: latencyBench,
  ingest: ingestBench,
  fanout: fanoutBench,
  api: apiBench,
  e2e: e2eBench,
};

const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.npm_config_quick === 'true';
const outArg = args.find((a) => a.startsWith('--out='));
const jsonFile = outArg ? outArg.slice('--out='.length) : process.env.npm_config_out && process.env.npm_config_out !== 'true' ? process.env.npm_config_out : undefined;
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !(n in all));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; choose from: ${Object.keys(all).join(', ')}`);
  process.exit(2);
}

function printResult(r: BenchResult, secs: number) {
  console.log(`\n## ${r.name}  (${secs.toFixed(0)} s)`);
  console.log(`   ${r.setup}`);
  const rows = r.rows.map((x) => [x.metric, x.value, x.against ?? '', x.ratio ?? '', x.verdict ?? '']);
  const w = [0, 1, 2, 3].map((c) => Math.max(...rows.map((row) => row[c]!.length), 6));
  for (const row of rows) console.log(`   ${row.map((cell, c) => (c < 4 ? cell.padEnd(w[c]!) : cell)).join('  ')}`);
  for (const n of r.notes) console.log(`   note: ${n}`);
}

// The backend under test runs as `npm start` runs it: the build in backend/ci/dist, made now.
const backendDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'backend', 'ci');
const build = spawnSync('npm', ['run', 'build'], { cwd: backendDir, encoding: 'utf8' });
if (build.status !== 0) {
  console.error(`could not build the backend (npm run build -w backend/ci):\n${build.stdout}${build.stderr}`);
  process.exit(1);
}

const results: Array<BenchResult & { seconds: number }> = [];
console.log(`QA Intelligence CI/CD benchmarks${quick ? ' (--quick)' : ''}: node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
let failed = false;
for (const name of names.length ? names : Object.keys(all)) {
  const started = Date.now();
  try {
    const r = await all[name]!({ quick });
    const secs = (Date.now() - started) / 1000;
    results.push({ ...r, seconds: secs });
    printResult(r, secs);
  } catch (err) {
    failed = true;
    console.error(`\n## ${name}: FAILED to run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ quick, node: process.version, cpus: os.cpus().length, at: new Date().toISOString(), results }, null, 2));
// A benchmark that could not run is an error; a missed target is a finding, printed above.
process.exit(failed ? 1 : 0);
