/**
 * Starts the real service (buildApp + listen on a loopback port) on a fresh
 * SQLite file and artifact folder, with the sandbox Jenkins at test pace.
 * Every test talks to it over real HTTP and WebSocket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { buildApp, type Services } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Sandbox } from '../../src/sandbox/index.js';

export interface TestService {
  url: string;
  wsUrl: string;
  services: Services;
  dir: string;
  close(): Promise<void>;
}

export async function startService(env: Record<string, string> = {}, opts: { sandbox?: Sandbox; keepDir?: string } = {}): Promise<TestService> {
  const dir = opts.keepDir ?? mkdtempSync(path.join(os.tmpdir(), 'qaci-test-'));
  const config = loadConfig({
    DATABASE_URL: path.join(dir, 'ci.sqlite'),
    ARTIFACT_STORE: path.join(dir, 'artifacts'),
    SANDBOX_TIME_SCALE: '0.02',
    JENKINS_POLL_MS: '100',
    JENKINS_DEADLINE_S: '60',
    LOG_LEVEL: 'silent',
    PORT: '0',
    ...env,
  });
  const { app, services } = await buildApp(config, opts.sandbox ? { sandbox: opts.sandbox } : {});
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: address,
    wsUrl: address.replace(/^http/, 'ws'),
    services,
    dir,
    close: async () => {
      await app.close();
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function api<T = any>(base: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(base + p, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

const TERMINAL = new Set(['success', 'failed', 'rolled_back', 'cancelled', 'error']);

export async function waitForRun(
  base: string,
  runId: string,
  timeoutMs = 60_000,
  until: (run: any) => boolean = (r) => TERMINAL.has(r.status),
  headers: Record<string, string> = {},
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await api(base, 'GET', `/ci/runs/${runId}`, undefined, headers);
    if (status === 200 && until(body)) return body;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(body).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface WsCollector {
  messages: Array<{ at: number; data: any }>;
  done: Promise<{ code: number; reason: string }>;
  socket: WebSocket;
}

/** Connects to the log stream and records every frame with its arrival time. */
export function collectWs(wsBase: string, runId: string, query = 'format=json'): WsCollector {
  const socket = new WebSocket(`${wsBase}/ci/runs/${runId}/logs?${query}`);
  const messages: WsCollector['messages'] = [];
  const json = query.includes('format=json');
  socket.on('message', (d) => messages.push({ at: Date.now(), data: json ? JSON.parse(String(d)) : String(d) }));
  const done = new Promise<{ code: number; reason: string }>((resolve, reject) => {
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    socket.on('error', reject);
  });
  return { messages, done, socket };
}

export function logEvents(c: WsCollector) {
  return c.messages.map((m) => m.data).filter((d) => d.type === 'log');
}
