import { Hono } from 'hono';
import type { AgentStatus } from '../agent/run-agent.ts';

// The agent's read-only HTTP face: who is master of what, since when. Kept to GET
// routes with no side effects, so exposing it on a management network is low risk; the
// dashboard, metrics and webhooks of later issues join here.

export interface StatusSource {
  status(): AgentStatus;
}

export function statusApp(source: StatusSource): Hono {
  const app = new Hono();
  app.get('/status', (c) => c.json(source.status()));
  // Alive and answering: the agent process runs its event loop. Readiness (converged,
  // instances out of INIT) is /readyz's job, later.
  app.get('/healthz', (c) => c.text('ok\n'));
  return app;
}
