/**
 * A bench-only Jenkins-like server: just the REST calls the backend's Jenkins client makes,
 * with builds whose console the benchmark writes itself (so it knows when each line was
 * written) or serves from a file (the 100 MB console). Not the sandbox: no pipeline, no
 * DevTest, no pacing — nothing between the benchmark's write and the backend's read.
 *
 * progressiveText follows the classic contract (reference §5.1): from `start`, only complete
 * lines while the build runs, `X-Text-Size` = the offset after them, `X-More-Data: true` while
 * running. The body is the raw bytes (no LF→CRLF), so X-Text-Size - start = body length.
 */
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeBuild {
  number: number;
  runId: string;
  /** Console bytes written so far (in memory), unless `file` serves it. */
  chunks: Buffer[];
  size: number;
  file: string | null;
  building: boolean;
  result: string | null;
  startedAt: number;
  finishedAt: number | null;
  /** When the backend first asked for this build's console. */
  firstConsoleReadAt: number | null;
  /** Called when the build is created (on trigger). */
  append(text: string): void;
  finish(result?: string): void;
}

export interface FakeJenkins {
  url: string;
  user: string;
  token: string;
  builds: FakeBuild[];
  /** When a build is triggered: decide its console (write lines, or point at a file). */
  onTrigger(fn: (b: FakeBuild) => void): void;
  /** Wall-clock times (ms) of trigger POSTs, by QA_RUN_ID. */
  triggeredAt: Map<string, number>;
  close(): Promise<void>;
}

const PARAMS = ['BRANCH_OR_TAG', 'DRY_RUN', 'TEST_SUITE', 'ACTION', 'ROLLBACK_TO', 'QA_RUN_ID'];
const JOB = 'WeSign-CI';

export async function startFakeJenkins(): Promise<FakeJenkins> {
  const user = 'bench-bot';
  const token = 'bench-fake-token-0123456789';
  const auth = 'Basic ' + Buffer.from(`${user}:${token}`).toString('base64');
  const builds: FakeBuild[] = [];
  const triggeredAt = new Map<string, number>();
  let onTrigger: (b: FakeBuild) => void = (b) => b.finish();
  let base = '';

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'x-jenkins': '2.516-bench', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const newBuild = (runId: string): FakeBuild => {
    const b: FakeBuild = {
      number: builds.length + 1,
      runId,
      chunks: [],
      size: 0,
      file: null,
      building: true,
      result: null,
      startedAt: Date.now(),
      finishedAt: null,
      firstConsoleReadAt: null,
      append(text: string) {
        const buf = Buffer.from(text, 'utf8');
        this.chunks.push(buf);
        this.size += buf.length;
      },
      finish(result = 'SUCCESS') {
        this.building = false;
        this.result = result;
        this.finishedAt = Date.now();
      },
    };
    builds.push(b);
    return b;
  };

  /** Bytes [start, end) of an in-memory console. */
  const slice = (b: FakeBuild, start: number, end: number): Buffer => {
    const all = b.chunks.length === 1 ? b.chunks[0]! : Buffer.concat(b.chunks);
    if (b.chunks.length > 1) b.chunks = [all];
    return all.subarray(start, end);
  };

  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== auth) return json(res, 401, { error: 'bad credentials' });
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    const tree = url.searchParams.get('tree') ?? '';
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      if (p === '/api/json') return json(res, 200, { mode: 'NORMAL' });
      if (p === '/queue/api/json') return json(res, 200, { items: [] });
      if (p === `/job/${JOB}/api/json`) {
        if (tree.startsWith('buildable')) return json(res, 200, { buildable: true, property: [{ parameterDefinitions: PARAMS.map((name) => ({ name, type: 'StringParameterDefinition' })) }] });
        return json(res, 200, {
          builds: [...builds].reverse().map((b) => ({ number: b.number, url: `${base}job/${JOB}/${b.number}/`, actions: [{ parameters: [{ name: 'QA_RUN_ID', value: b.runId }] }] })),
        });
      }
      if (p === `/job/${JOB}/buildWithParameters` && req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(body).toString('utf8'));
        const runId = form.get('QA_RUN_ID') ?? '';
        triggeredAt.set(runId, Date.now());
        const b = newBuild(runId);
        onTrigger(b);
        res.writeHead(201, { location: `${base}queue/item/${b.number}/`, 'x-jenkins': '2.516-bench', 'content-length': 0 });
        return res.end();
      }
      const q = /^\/queue\/item\/(\d+)\/api\/json$/.exec(p);
      if (q) {
        const b = builds[Number(q[1]) - 1];
        if (!b) return json(res, 404, {});
        return json(res, 200, { _class: 'hudson.model.Queue$LeftItem', id: b.number, cancelled: false, executable: { number: b.number, url: `${base}job/${JOB}/${b.number}/` }, task: { name: JOB, url: `${base}job/${JOB}/` } });
      }
      const m = new RegExp(`^/job/${JOB}/(\\d+)/(.*)$`).exec(p);
      const b = m ? builds[Number(m[1]) - 1] : undefined;
      if (!m || !b) return json(res, 404, {});
      const rest = m[2];
      if (rest === 'api/json') {
        if (tree.startsWith('artifacts')) return json(res, 200, { artifacts: [] });
        return json(res, 200, {
          number: b.number,
          building: b.building,
          inProgress: b.building,
          result: b.result,
          timestamp: b.startedAt,
          duration: b.finishedAt ? b.finishedAt - b.startedAt : 0,
          description: null,
          actions: [{ parameters: [{ name: 'QA_RUN_ID', value: b.runId }] }],
        });
      }
      if (rest === 'wfapi/describe') return json(res, 200, { stages: [] });
      if (rest === 'logText/progressiveText') {
        const start = Number(url.searchParams.get('start') ?? '0');
        b.firstConsoleReadAt ??= Date.now();
        const size = b.file ? statSync(b.file).size : b.size;
        let end = size;
        const headers: Record<string, string | number> = { 'content-type': 'text/plain;charset=utf-8', 'x-jenkins': '2.516-bench' };
        if (b.building && !b.file) {
          // Only complete lines while running.
          const all = slice(b, 0, size);
          end = Math.max(start, all.lastIndexOf(0x0a, size - 1) + 1);
          headers['x-more-data'] = 'true';
        }
        headers['x-text-size'] = end;
        headers['content-length'] = Math.max(0, end - start);
        res.writeHead(200, headers);
        if (end <= start) return res.end();
        if (b.file) return void createReadStream(b.file, { start, end: end - 1 }).pipe(res);
        return res.end(slice(b, start, end));
      }
      if (rest === 'consoleText') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        if (b.file) return void createReadStream(b.file).pipe(res);
        return res.end(slice(b, 0, b.size));
      }
      return json(res, 404, {});
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url: base,
    user,
    token,
    builds,
    triggeredAt,
    onTrigger: (fn) => (onTrigger = fn),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
