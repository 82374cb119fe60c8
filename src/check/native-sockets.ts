import { addonPath, type Loaded, loadAddon } from '../util/load-addon.ts';
import type { CheckTarget } from './check-types.ts';
import { isLinkLocal6 } from './connect.ts';

// The health checks' connections through the TCP-probe addon (native/tcp-probe.c) when it
// is built: a TCP check that never completes the handshake (the server's kernel answers,
// its application sees nothing) and a plain request/response exchange, each one socket
// and one callback per event instead of a net.Socket. Without the addon — or with
// KEEPGIT_CHECK_SOCKETS=node — the checkers use Node's net module (connect.ts), which
// does the same work at about twice the CPU.

interface TcpProbeAddon {
  init(callback: (id: number, event: number, value: unknown) => void): void;
  /** Undefined when under way, else why it could not start ("connect ENETUNREACH"). */
  start(
    id: number,
    family: number,
    address: string,
    port: number,
    bindAddress: string,
    bindPort: number,
    scopeInterface: string,
    timeoutMs: number,
    request: Buffer | null,
  ): string | undefined;
  cancel(id: number): void;
  active(): number;
}

const EV_UP = 1;
const EV_DATA = 2;
const EV_END = 3;
const EV_ERROR = 4;
const EV_TIMEOUT = 5;

type Handler = (event: number, value: unknown) => void;

const handlers = new Map<number, Handler>();
let nextId = 1;

let load: Loaded<TcpProbeAddon> | undefined;
let mode: 'native' | 'node' = process.env.KEEPGIT_CHECK_SOCKETS === 'node' ? 'node' : 'native';

function addon(): TcpProbeAddon | undefined {
  if (mode === 'node') return undefined;
  if (load === undefined) {
    load = loadAddon<TcpProbeAddon>(addonPath('keepgit_tcp_probe'), ['init', 'start', 'cancel', 'active']);
    if (load.ok)
      load.addon.init((id, event, value) => {
        const h = handlers.get(id);
        if (h === undefined) return;
        if (event !== EV_DATA) handlers.delete(id);
        h(event, value);
      });
  }
  return load.ok ? load.addon : undefined;
}

/** Which sockets the checks use, and why when not the native ones (for the agent's log). */
export function checkSockets(): { native: true } | { native: false; why: string } {
  if (mode === 'node') return { native: false, why: 'KEEPGIT_CHECK_SOCKETS=node' };
  addon();
  if (load?.ok) return { native: true };
  return {
    native: false,
    why: `the TCP-probe addon could not be loaded (${load?.detail ?? 'unknown'}); run npm install to build it`,
  };
}

/** Tests run the same checks over both kinds of socket. */
export function useCheckSockets(m: 'native' | 'node'): void {
  mode = m;
}

/** Attempts in progress in the addon (0 when it is not loaded): tests check nothing leaks. */
export function nativeActive(): number {
  return load?.ok ? load.addon.active() : 0;
}

export type NativeOutcome<T> = T | { ok: false; reason: string };

interface Attempt<T> {
  target: CheckTarget;
  timeoutMs: number;
  signal: AbortSignal;
  /** Null: a connect probe, resolved with `up()` once the server answers the SYN. */
  request: Buffer | null;
  up?: () => T;
  /** A chunk of the response; a value ends the attempt with it. */
  data?: (chunk: Buffer) => T | undefined;
  /** The server closed the connection. */
  end?: () => T;
}

/** Not the addon's: an attempt ended by its abort signal. */
const EV_ABORTED = 0;

/**
 * The attempts in flight per abort signal, and one listener per signal rather than one per
 * attempt: the check scheduler hands a check the same signal attempt after attempt until it
 * aborts, and adding and removing an EventTarget listener costs more than the rest of an
 * attempt's JavaScript.
 */
const inFlight = new WeakMap<AbortSignal, Set<number>>();

function attemptsOn(signal: AbortSignal, m: TcpProbeAddon): Set<number> {
  let ids = inFlight.get(signal);
  if (ids === undefined) {
    const mine = new Set<number>();
    ids = mine;
    inFlight.set(signal, mine);
    signal.addEventListener(
      'abort',
      () => {
        for (const id of mine) {
          const h = handlers.get(id);
          handlers.delete(id);
          m.cancel(id);
          h?.(EV_ABORTED, undefined);
        }
        mine.clear();
      },
      { once: true },
    );
  }
  return ids;
}

/** Runs one attempt, or returns undefined when the native sockets are not in use. */
export function nativeAttempt<T>(a: Attempt<T>): Promise<NativeOutcome<T>> | undefined {
  const m = addon();
  if (m === undefined) return undefined;
  return new Promise((resolve) => {
    if (a.signal.aborted) {
      resolve({ ok: false, reason: 'aborted' });
      return;
    }
    const id = nextId;
    nextId = nextId >= 0x7fffffff ? 1 : nextId + 1;
    const t = a.target;
    const why = m.start(
      id,
      t.family,
      t.address,
      t.port,
      t.bindAddress ?? '',
      t.bindPort ?? 0,
      t.family === 6 && t.bindInterface && isLinkLocal6(t.address) ? t.bindInterface : '',
      a.timeoutMs,
      a.request,
    );
    if (why !== undefined) {
      resolve({ ok: false, reason: why });
      return;
    }
    const ids = attemptsOn(a.signal, m);
    ids.add(id);
    const settle = (r: NativeOutcome<T>) => {
      ids.delete(id);
      resolve(r);
    };
    handlers.set(id, (event, value) => {
      switch (event) {
        case EV_UP:
          settle(a.up ? a.up() : { ok: false, reason: 'connect unexpected' });
          return;
        case EV_DATA: {
          const r = a.data?.(value as Buffer);
          if (r !== undefined) {
            handlers.delete(id);
            m.cancel(id);
            settle(r);
          }
          return;
        }
        case EV_END:
          settle(a.end ? a.end() : { ok: false, reason: 'read unexpected end' });
          return;
        case EV_ERROR:
          settle({ ok: false, reason: String(value) });
          return;
        case EV_TIMEOUT:
          settle({ ok: false, reason: `${String(value)} timeout after ${a.timeoutMs} ms` });
          return;
        case EV_ABORTED:
          settle({ ok: false, reason: 'aborted' });
          return;
      }
    });
  });
}
