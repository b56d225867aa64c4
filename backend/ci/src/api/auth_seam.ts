/**
 * What routes need from access control: who is calling, and a guard per role.
 * The implementation is ../auth/seam.ts (AUTH_MODE=none included: there the
 * auth plugin makes every request the local admin).
 */
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';

export type Role = 'viewer' | 'deployer' | 'admin';
export interface Principal {
  id: string;
  name: string;
  role: Role;
  via: string;
}

export interface AuthSeam {
  requireRole(role: Role): preHandlerAsyncHookHandler;
  principal(request: FastifyRequest): Principal | null;
  /** Authenticates a WebSocket upgrade (cookie or single-use ticket). */
  verifyWs(request: FastifyRequest): Promise<Principal | null>;
  /** Records who did what (audit trail). */
  audit(request: FastifyRequest, action: string, target: string, details?: Record<string, unknown>): Promise<void>;
}
