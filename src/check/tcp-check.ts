import type { ProbeFn } from './check-types.ts';
import { openConnection } from './connect.ts';
import { nativeAttempt } from './native-sockets.ts';

// TCP_CHECK: the server is up when it accepts a connection. Nothing is sent. With the
// native sockets the handshake is answered with a reset (the server's kernel accepted the
// SYN; its application never sees a connection); over Node's net module the connection
// completes and is closed at once, as keepalived does.

export type TcpSpec = Record<string, unknown>;

const UP = { ok: true } as const;
const up = () => UP;

export const probeTcp: ProbeFn<TcpSpec> = async (_spec, target, ctx) => {
  const started = ctx.now();
  const native = nativeAttempt({ target, timeoutMs: ctx.timeoutMs, signal: ctx.signal, request: null, up });
  const c =
    native !== undefined
      ? await native
      : await openConnection(target, { timeoutMs: ctx.timeoutMs, signal: ctx.signal, closeOnConnect: true });
  const latencyMs = ctx.now() - started;
  if (!c.ok) return { ok: false, latencyMs, reason: c.reason };
  return { ok: true, latencyMs };
};
