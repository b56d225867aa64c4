/**
 * A small reverse proxy in front of the sandbox Jenkins that misbehaves on request: the fault
 * suite points JENKINS_URL at it. A `planner` decides, per request, what happens to it: pass,
 * answer 5xx without forwarding, reset the connection, forward but cut the reply mid-body,
 * forward slowly, forward and then lose Jenkins' answer (so Jenkins acted but the backend never
 * hears of it), or hold the request (before or after Jenkins saw it) until the test releases it.
 * Holding is how the suite stops the backend at a chosen point of a run, deterministically.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Plan =
  | { kind: 'pass' }
  /** Answer this status without forwarding (Jenkins never sees the request). */
  | { kind: 'status'; code: number }
  /** Destroy the connection without any answer. */
  | { kind: 'reset' }
  /**
   * Forward; send the headers and the first `afterBytes` of Jenkins' body, then destroy the
   * connection. With `minBody`, a reply shorter than that passes untouched; `onCut` is told of a cut.
   */
  | { kind: 'cut'; afterBytes: number; minBody?: number; onCut?: () => void }
  /** Forward after `ms`. */
  | { kind: 'delay'; ms: number }
  /** Forward (Jenkins acts on it), then answer `code` instead of Jenkins' reply. */
  | { kind: 'lostAnswer'; code: number }
  /** Wait for `until` before forwarding; if the caller goes away meanwhile, never forward. */
  | { kind: 'hold'; until: Promise<void>; onHeld?: () => void }
  /** Forward, then answer what `fn` makes of Jenkins' reply (hostile or broken replies). */
  | { kind: 'rewrite'; fn: (up: Upstream) => Upstream }
  /** Forward, then wait for `until` before answering. */
  | { kind: 'holdAnswer'; until: Promise<void>; onHeld?: () => void }
  /**
   * Forward; send the headers and `afterBytes` of the body, then wait for `until` before the rest.
   * With `minBody`, a reply shorter than that passes untouched (and `onPassed` is told).
   */
  | { kind: 'holdMidBody'; afterBytes: number; until: Promise<void>; onHeld?: () => void; minBody?: number; onPassed?: () => void };

export interface Upstream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface SeenRequest {
  method: string;
  path: string;
  plan: Plan['kind'];
  /** What the caller got: Jenkins' status, ours, or null (connection reset / caller gone). */
  status: number | null;
  at: number;
}

export type Planner = (req: { method: string; path: string; n: number }) => Plan;

export interface FaultyProxy {
  url: string;
  seen: SeenRequest[];
  setPlanner(p: Planner): void;
  close(): Promise<void>;
}

/** A promise with its resolve function, for holds. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const upstream = new URL(target);
  let planner: Planner = () => ({ kind: 'pass' });
  let n = 0;
  const seen: SeenRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const reqPath = req.url ?? '/';
    const plan = planner({ method, path: reqPath, n: n++ });
    const record: SeenRequest = { method, path: reqPath, plan: plan.kind, status: null, at: Date.now() };
    seen.push(record);
    let callerGone = false;
    res.on('close', () => {
      if (!res.writableFinished) callerGone = true;
    });
    req.on('aborted', () => (callerGone = true));

    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(Buffer.concat(chunks)));

    const forward = (body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
      new Promise((resolve, reject) => {
        const headers = { ...req.headers, host: upstream.host };
        const out = http.request({ host: upstream.hostname, port: upstream.port, method, path: reqPath, headers }, (up) => {
          const parts: Buffer[] = [];
          up.on('data', (c: Buffer) => parts.push(c));
          up.on('end', () => resolve({ status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(parts) }));
          up.on('error', reject);
        });
        out.on('error', reject);
        out.end(body);
      });

    const answer = (status: number, headers: http.IncomingHttpHeaders, body: Buffer) => {
      record.status = status;
      const h = { ...headers };
      delete h['transfer-encoding'];
      delete h['connection'];
      h['content-length'] = String(body.length);
      res.writeHead(status, h);
      res.end(body);
    };

    const handle = async (body: Buffer) => {
      try {
        switch (plan.kind) {
          case 'status':
            record.status = plan.code;
            res.writeHead(plan.code, { 'content-type': 'text/html' });
            res.end(`<html><body>proxy fault ${plan.code}</body></html>`);
            return;
          case 'reset':
            req.socket.destroy();
            return;
          case 'hold':
            plan.onHeld?.();
            await plan.until;
            if (callerGone) return;
            break;
          case 'delay':
            await new Promise((r) => setTimeout(r, plan.ms));
            if (callerGone) return;
            break;
          default:
            break;
        }
        const up = await forward(body);
        if (plan.kind === 'lostAnswer') {
          record.status = plan.code;
          res.writeHead(plan.code, { 'content-type': 'text/html' });
          res.end(`<html><body>proxy lost Jenkins' answer (${up.status})</body></html>`);
          return;
        }
        if (plan.kind === 'rewrite') {
          const out = plan.fn(up);
          answer(out.status, out.headers, out.body);
          return;
        }
        if (plan.kind === 'holdAnswer') {
          plan.onHeld?.();
          await plan.until;
          if (callerGone) return;
        }
        if ((plan.kind === 'holdMidBody' || plan.kind === 'cut') && plan.minBody !== undefined && up.body.length < plan.minBody) {
          if (plan.kind === 'holdMidBody') plan.onPassed?.();
          answer(up.status, up.headers, up.body);
          return;
        }
        if (plan.kind === 'cut' || plan.kind === 'holdMidBody') {
          record.status = up.status;
          const h = { ...up.headers };
          delete h['transfer-encoding'];
          h['content-length'] = String(up.body.length);
          res.writeHead(up.status, h);
          const cutAt = Math.min(plan.afterBytes, Math.max(0, up.body.length - 1));
          res.write(up.body.subarray(0, cutAt));
          if (plan.kind === 'cut') {
            plan.onCut?.();
            // Let the first bytes leave, then drop the connection with the reply unfinished.
            setTimeout(() => req.socket.destroy(), 5);
            return;
          }
          plan.onHeld?.();
          await plan.until;
          if (callerGone) return;
          res.end(up.body.subarray(cutAt));
          return;
        }
        answer(up.status, up.headers, up.body);
      } catch {
        if (!res.headersSent) {
          record.status = 502;
          res.writeHead(502);
          res.end('proxy: upstream failed');
        } else req.socket.destroy();
      }
    };
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    seen,
    setPlanner: (p) => (planner = p),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
