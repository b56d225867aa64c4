/**
 * Test harness: a real HTTP server on loopback standing in for the backend's
 * routes a test needs (recording every request), and a render() that mounts
 * components with the providers the page uses, pointed at that server.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueryClientProvider } from '@tanstack/react-query';
import { render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';
import { ApiClient } from '../api/client.js';
import { CiApiProvider } from '../api/context.js';
import { createCiQueryClient } from '../api/hooks.js';
import { AnnouncerProvider } from '../lib/announce.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
}
export type Handler = (req: RecordedRequest) => { status?: number; body?: unknown; text?: string } | Promise<{ status?: number; body?: unknown; text?: string }>;

export interface TestApi {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Route "METHOD /path" (exact pathname) to a handler. */
  on(route: string, handler: Handler): void;
  close(): Promise<void>;
}

export async function startTestApi(): Promise<TestApi> {
  const routes = new Map<string, Handler>();
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const rec: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: raw ? JSON.parse(raw) : undefined };
    requests.push(rec);
    const handler = routes.get(`${rec.method} ${rec.path}`);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: `${rec.method} ${rec.path} was not found; no test route` } }));
      return;
    }
    const out = await handler(rec);
    if (out.text !== undefined) {
      res.writeHead(out.status ?? 200, { 'content-type': 'text/plain' });
      res.end(out.text);
    } else {
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out.body ?? {}));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    on: (route, handler) => routes.set(route, handler),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export function renderWithApi(ui: ReactElement, baseUrl: string): RenderResult & { client: ApiClient } {
  const client = new ApiClient({ baseUrl });
  const qc = createCiQueryClient();
  const result = render(
    <QueryClientProvider client={qc}>
      <CiApiProvider client={client}>
        <AnnouncerProvider>{ui}</AnnouncerProvider>
      </CiApiProvider>
    </QueryClientProvider>,
  );
  return Object.assign(result, { client });
}
