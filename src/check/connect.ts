import { connect as netConnect, type Socket, type TcpNetConnectOpts } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { CheckTarget } from './check-types.ts';

// Opening the probe's connection to a real server, shared by every TCP-based checker. A fresh
// socket per attempt (keepalived opens one per check too): a pooled connection would prove
// only that an old connection still works, not that the server accepts new ones.

export interface ConnectOptions {
  /** Deadline for the TCP handshake (and the TLS handshake, when asked). */
  timeoutMs: number;
  signal: AbortSignal;
  /** Wrap in TLS. The certificate is not verified: keepalived's SSL_GET does not verify either. */
  tls?: { servername?: string };
  /**
   * Close the connection as soon as the handshake completes (TCP_CHECK): the socket handed
   * back is already closed.
   */
  closeOnConnect?: boolean;
}

export type Connected = { ok: true; socket: Socket | TLSSocket } | { ok: false; reason: string };

export const isLinkLocal6 = (address: string): boolean => /^fe[89ab][0-9a-f]:/i.test(address);

/** The address to dial: an IPv6 link-local address needs the interface as its scope. */
export function dialAddress(target: CheckTarget): string {
  if (
    target.family === 6 &&
    target.bindInterface &&
    isLinkLocal6(target.address) &&
    !target.address.includes('%')
  )
    return `${target.address}%${target.bindInterface}`;
  return target.address;
}

export function describeError(e: unknown): string {
  if (e && typeof e === 'object' && 'code' in e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(e);
}

const ignore = (): void => {};
const ONCE = { once: true } as const;

/** Connects, resolving (never rejecting) with an open socket or the reason it failed. */
export function openConnection(target: CheckTarget, opts: ConnectOptions): Promise<Connected> {
  return new Promise((resolve) => {
    if (opts.signal.aborted) {
      resolve({ ok: false, reason: 'aborted' });
      return;
    }
    let settled = false;
    let phase = 'connect';
    let socket: Socket | TLSSocket;
    // Built field by field: thousands of attempts a second, each spread would be an object more.
    const options: TcpNetConnectOpts = {
      host: dialAddress(target),
      port: target.port,
      family: target.family,
    };
    if (target.bindAddress) options.localAddress = target.bindAddress;
    if (target.bindPort) options.localPort = target.bindPort;
    try {
      socket = netConnect(options);
    } catch (e) {
      // Node refuses some options before trying (a malformed bind address): same outcome.
      resolve({ ok: false, reason: `connect ${describeError(e)}` });
      return;
    }
    const finish = (r: Connected) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      if (!r.ok) socket.destroy();
      resolve(r);
    };
    const onAbort = () => finish({ ok: false, reason: 'aborted' });
    const timer = setTimeout(
      () => finish({ ok: false, reason: `${phase} timeout after ${opts.timeoutMs} ms` }),
      opts.timeoutMs,
    );
    opts.signal.addEventListener('abort', onAbort, ONCE);
    // Stays after the handshake: an error then is the caller's to see through its own reads,
    // and without a listener it would crash the agent instead.
    const onError = (e: Error) => finish({ ok: false, reason: `${phase} ${describeError(e)}` });
    socket.on('error', onError);
    socket.once('connect', () => {
      if (opts.closeOnConnect) {
        // Here, before Node starts reading the socket: a closed probe needs no read set up.
        socket.destroy();
        finish({ ok: true, socket });
        return;
      }
      if (!opts.tls) {
        finish({ ok: true, socket });
        return;
      }
      phase = 'tls';
      const raw = socket;
      raw.off('error', onError);
      // A failed handshake destroys the TLS socket; the raw one goes with it.
      raw.on('error', ignore);
      socket = tlsConnect({
        socket: raw,
        rejectUnauthorized: false,
        ...(opts.tls.servername ? { servername: opts.tls.servername } : {}),
      });
      socket.once('error', (e) => finish({ ok: false, reason: `tls ${describeError(e)}` }));
      socket.on('error', ignore);
      socket.once('secureConnect', () => finish({ ok: true, socket }));
    });
  });
}
