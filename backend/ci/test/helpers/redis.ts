/**
 * A real Redis server for tests: Debian's `redis-server` on a free loopback
 * port, in the foreground (so the test owns its pid), with no persistence
 * (`--save "" --appendonly no`), stopped after.
 *
 * Under CI=true a missing redis-server is a failure (`redisAvailability()`
 * says why); elsewhere the caller may skip.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, killOnExit } from './pg.js';

export function redisAvailability(): { ok: boolean; bin: string | null; reason: string | null } {
  const bin = process.env.REDIS_SERVER_BIN ?? findOnPath('redis-server');
  if (!bin) return { ok: false, bin: null, reason: 'redis-server not found on PATH; install it with `apt-get install -y redis-server` (.ci/run does)' };
  return { ok: true, bin, reason: null };
}

function findOnPath(name: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export interface RedisServer {
  port: number;
  url: string;
  /** Kills the server abruptly (for "Redis went away" tests); `start()` again is not supported. */
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const avail = redisAvailability();
  if (!avail.ok || !avail.bin) throw new Error(avail.reason ?? 'redis-server is not available');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-redis-'));
  const port = await freePort();
  const child = spawn(avail.bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const forget = killOnExit(child);
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;

  const deadline = Date.now() + 15_000;
  for (;;) {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') {
        c.disconnect();
        break;
      }
    } catch {
      c.disconnect();
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on 127.0.0.1:${port}: ${output.trim() || 'no output'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let stopped = false;
  return {
    port,
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
      forget();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
