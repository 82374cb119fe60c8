import { createSocket, type Socket } from 'node:dgram';
import type { CheckOutcome, CheckTarget, ProbeContext } from './check-types.ts';

// One datagram out and what comes back, on a connected UDP socket: the shared half of
// DNS_CHECK and UDP_CHECK. Connecting is what makes an ICMP port (or host) unreachable
// from the peer surface as an error on the socket (ECONNREFUSED), which both checks
// treat as a failure, as keepalived does. The socket lives for one attempt only.

export type Verdict = { ok: true; detail?: string } | { ok: false; reason: string };

export interface ExchangeRules {
  /** What a datagram from the peer means: a verdict ends the attempt, undefined keeps waiting. */
  onReply: (reply: Buffer) => Verdict | undefined;
  /** What silence until the timeout means. */
  onSilence: (timeoutMs: number) => Verdict;
}

/** Advice for the errors a peer or the network can cause, by errno. */
const MEANING: Record<string, string> = {
  ECONNREFUSED: 'port unreachable (ICMP): nothing listens there',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable: no route to it',
  EADDRNOTAVAIL: 'not an address of this node',
  EADDRINUSE: 'the address and port are in use',
  EACCES: 'permission denied',
  EINVAL: 'invalid address for this socket',
};

function describeError(e: unknown, during: string): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return `${during}: ${code}${MEANING[code] ? ` (${MEANING[code]})` : ''}`;
  return `${during}: ${e instanceof Error ? e.message : String(e)}`;
}

/**
 * Where to connect: the target, with the bindto interface as the zone of an IPv6
 * link-local address. Node's UDP sockets have no SO_BINDTODEVICE, so that is the only way
 * an interface can be honoured; otherwise `note` says it was not applied (as the TCP and
 * HTTP checks do, the check still runs: keepalived users rarely need more than the scope).
 */
export function connectAddress(target: CheckTarget): { address: string; note?: string } {
  if (target.bindInterface === undefined || target.address.includes('%')) return { address: target.address };
  if (target.family === 6 && /^fe[89ab][0-9a-f]:/i.test(target.address))
    return { address: `${target.address}%${target.bindInterface}` };
  return {
    address: target.address,
    note: `bindIf ${target.bindInterface} not applied: UDP sockets here cannot bind to a device (only an IPv6 link-local target takes it as its scope)`,
  };
}

/** Sends `payload` to the target and waits for the rules to decide. Never rejects. */
export function exchangeUdp(
  payload: Buffer,
  target: CheckTarget,
  ctx: ProbeContext,
  rules: ExchangeRules,
): Promise<CheckOutcome> {
  const started = ctx.now();
  const where = connectAddress(target);
  const done = (v: Verdict): CheckOutcome => {
    const latencyMs = Math.max(0, ctx.now() - started);
    if (!v.ok) return { ok: false, latencyMs, reason: v.reason };
    const detail = [v.detail, where.note].filter((x) => x !== undefined).join('; ');
    return detail === '' ? { ok: true, latencyMs } : { ok: true, latencyMs, detail };
  };
  if (ctx.signal.aborted) return Promise.resolve(done({ ok: false, reason: 'aborted' }));

  return new Promise<CheckOutcome>((resolve) => {
    let socket: Socket | undefined;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (v: Verdict): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      try {
        socket?.close();
      } catch {
        // already closed by an error: nothing left to release
      }
      resolve(done(v));
    };
    const onAbort = (): void => finish({ ok: false, reason: 'aborted' });
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => finish(rules.onSilence(ctx.timeoutMs)), ctx.timeoutMs);

    let stage = 'socket';
    try {
      socket = createSocket({ type: target.family === 6 ? 'udp6' : 'udp4' });
    } catch (e) {
      finish({ ok: false, reason: describeError(e, 'socket') });
      return;
    }
    const s = socket;
    s.on('error', (e) => finish({ ok: false, reason: describeError(e, stage) }));
    s.on('message', (msg) => {
      const v = rules.onReply(msg);
      if (v) finish(v);
    });
    const connectAndSend = (): void => {
      stage = 'connect';
      s.connect(target.port, where.address, () => {
        if (finished) return;
        stage = 'receive';
        s.send(payload, (e) => {
          if (e) finish({ ok: false, reason: describeError(e, 'send') });
        });
      });
    };
    try {
      if (target.bindAddress !== undefined || target.bindPort !== undefined) {
        stage = `bindTo ${target.bindAddress ?? '*'}${target.bindPort === undefined ? '' : ` port ${target.bindPort}`}`;
        const bind: { address?: string; port?: number } = {};
        if (target.bindAddress !== undefined) bind.address = target.bindAddress;
        if (target.bindPort !== undefined) bind.port = target.bindPort;
        s.bind(bind, () => {
          if (!finished) connectAndSend();
        });
      } else connectAndSend();
    } catch (e) {
      finish({ ok: false, reason: describeError(e, stage) });
    }
  });
}
