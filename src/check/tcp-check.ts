import type { ProbeFn } from './check-types.ts';
import { openConnection } from './connect.ts';

// TCP_CHECK: the server is up when it accepts a connection. Nothing is sent; the socket is
// closed at once, as keepalived does.

export type TcpSpec = Record<string, unknown>;

export const probeTcp: ProbeFn<TcpSpec> = async (_spec, target, ctx) => {
  const started = ctx.now();
  const c = await openConnection(target, {
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
    closeOnConnect: true,
  });
  const latencyMs = ctx.now() - started;
  if (!c.ok) return { ok: false, latencyMs, reason: c.reason };
  return { ok: true, latencyMs };
};
