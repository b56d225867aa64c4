/**
 * What routes need from access control: who is calling, and a guard per role.
 * `noAuth()` is AUTH_MODE=none (sandbox on loopback only): everyone is the
 * local admin. The real implementation lives in ../auth/.
 */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';

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

const LOCAL: Principal = { id: 'local', name: 'local', role: 'admin', via: 'none' };

export function noAuth(): AuthSeam {
  return {
    requireRole: () => async (_req: FastifyRequest, _reply: FastifyReply) => {},
    principal: () => LOCAL,
    verifyWs: async () => LOCAL,
    audit: async () => {},
  };
}
