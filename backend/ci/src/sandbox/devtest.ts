/**
 * The simulated DevTest: an HTTP server on loopback that answers the endpoints
 * of contract/pipeline.json → simulatedDevTest, for whatever version is
 * "deployed". The emulated job's deploy, smoke, rollback, API and E2E stages
 * reach it over real HTTP; it counts requests so a test can prove that a dry
 * run never touched DevTest.
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ContractEndpoint } from './contract.js';
import type { FaultState } from './faults.js';
import type { SandboxStore } from './store.js';

export interface DeployedVersion {
  version: string;
  commit: string;
  deployed_at: string;
  /** Answers 503 on every endpoint (fault smoke_fail at deploy time, rollback_fail at restore time). */
  broken: boolean;
}

export interface Backup {
  /** BACKUP_ROOT\YYYYMMDD_HHMMSS */
  id: string;
  version: string | null;
  commit: string | null;
  taken_at: string;
}

interface DevTestState {
  deployed: DeployedVersion | null;
  backups: Backup[];
  poolsRunning: boolean;
}

/** What DevTest runs before the sandbox's first deploy, so the first deploy has something to back up. */
const BASELINE: DeployedVersion = {
  version: '1.0.0',
  commit: 'b7c1e0d5a3f24c9e8d6b0a1f2e3d4c5b6a7f8e90',
  deployed_at: '2026-01-05T09:00:00.000Z',
  broken: false,
};

export class SimulatedDevTest {
  private state: DevTestState;
  private requests = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  url = '';

  constructor(
    private readonly opts: { host: string; port: number; endpoints: ContractEndpoint[]; faults: FaultState; store: SandboxStore },
  ) {
    this.state = opts.store.load<DevTestState>('devtest.json') ?? { deployed: { ...BASELINE }, backups: [], poolsRunning: true };
    this.state.poolsRunning = true; // a restarted sandbox comes back with IIS running
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.requests++;
      const url = new URL(req.url ?? '/', 'http://devtest.invalid');
      res.setHeader('Server', 'Microsoft-IIS/10.0 (simulated by the QA Intelligence sandbox)');
      if (!this.state.poolsRunning) {
        // An IIS site whose application pool is stopped answers 503.
        res.writeHead(503, { 'Content-Type': 'text/html' });
        res.end('<h1>Service Unavailable</h1><p>HTTP Error 503. The service is unavailable.</p>');
        return;
      }
      const endpoint = this.opts.endpoints.find((e) => e.path.toLowerCase() === url.pathname.toLowerCase().replace(/\/$/, ''));
      if (url.pathname === '/' || url.pathname === '') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<h1>WeSign</h1><p>Simulated DevTest (IIS).</p>');
        return;
      }
      if (!endpoint) {
        res.writeHead(404, { 'Content-Type': 'text/html' });
        res.end('<h1>404 - File or directory not found.</h1>');
        return;
      }
      const deployed = this.state.deployed;
      if (!deployed || deployed.broken) {
        const reason = deployed ? `version ${deployed.version} fails its health checks (sandbox fault)` : 'nothing is deployed';
        this.sendJson(res, 503, { status: 'Unhealthy', reason });
        return;
      }
      if (this.opts.faults.get().api_fail && endpoint.path === '/api/version') {
        this.sendJson(res, 500, { error: 'InternalServerError', message: 'Object reference not set to an instance of an object. (sandbox fault api_fail)' });
        return;
      }
      const body: Record<string, string> = {};
      for (const [k, v] of Object.entries(endpoint.body)) {
        body[k] = v.replace('<version>', deployed.version).replace('<sha>', deployed.commit).replace('<iso8601>', deployed.deployed_at);
      }
      this.sendJson(res, 200, body);
    });
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    this.url = `http://${this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host}:${port}`;
  }

  private sendJson(res: import('node:http').ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  get requestCount(): number {
    return this.requests;
  }

  get deployed(): DeployedVersion | null {
    return this.state.deployed ? { ...this.state.deployed } : null;
  }

  get backups(): Backup[] {
    return this.state.backups.map((b) => ({ ...b }));
  }

  stopPools(): void {
    this.state.poolsRunning = false;
  }

  startPools(): void {
    this.state.poolsRunning = true;
  }

  /** Backup of what is deployed now, under a fresh YYYYMMDD_HHMMSS id (one second later on a clash). */
  takeBackup(at = new Date()): Backup {
    let t = at.getTime();
    let id = backupId(new Date(t));
    while (this.state.backups.some((b) => b.id === id)) {
      t += 1000;
      id = backupId(new Date(t));
    }
    const d = this.state.deployed;
    const backup: Backup = { id, version: d?.version ?? null, commit: d?.commit ?? null, taken_at: new Date().toISOString() };
    this.state.backups.push(backup);
    this.save();
    return backup;
  }

  deploy(version: string, commit: string, broken: boolean): void {
    this.state.deployed = { version, commit, deployed_at: new Date().toISOString(), broken };
    this.save();
  }

  findBackup(id: string | null): Backup | undefined {
    if (!id) return this.state.backups[this.state.backups.length - 1];
    return this.state.backups.find((b) => b.id === id);
  }

  /** Restores a backup; `broken` marks the restored version as failing its health checks (rollback_fail). */
  restore(backup: Backup, broken: boolean): void {
    this.state.deployed = backup.commit
      ? { version: backup.version ?? 'unknown', commit: backup.commit, deployed_at: new Date().toISOString(), broken }
      : null;
    this.save();
  }

  private save(): void {
    this.opts.store.save('devtest.json', this.state);
  }
}

/** BACKUP_ROOT folder name: YYYYMMDD_HHMMSS in UTC. */
export function backupId(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}
