import { randomInt } from 'node:crypto';
import { canonicalIp, ipFamily } from '../model/ip.ts';
import type { CheckOutcome, CheckTarget, ProbeContext } from './check-types.ts';
import { describeIcmpError, echoRequest, type IcmpEvent, parseIcmp } from './icmp-packet.ts';
import type { IcmpSocket, OpenIcmpSocket } from './icmp-socket.ts';
import { keepalivedFiller } from './keepalived-filler.ts';

// Echo requests out, replies matched back to the probe that is waiting for them.
//
// One socket per (family, bindto, bind interface), shared by every ping in flight, not one
// per probe: a raw socket receives every ICMP packet of its family that reaches the node,
// so with N sockets open each reply would be copied to, and parsed by, all N of them
// (N² work for N checks), and thousands of checks would hold thousands of descriptors.
// A shared socket reads each packet once and finds its probe in a map.
//
// The identifier is random per socket, so replies to another process's pings (or to a
// keepgit that restarted) do not match; the sequence number tells our own pings apart,
// and the reply's source must be the address pinged. An ICMP error quoting one of our
// requests (host unreachable, time exceeded) ends that probe at once. A socket is closed
// once it has had nothing in flight for `lingerMs`, so an idle agent holds none and a
// busy one does not reopen one for every probe.

export interface PingerOptions {
  open: OpenIcmpSocket;
  /** How long an idle socket stays open for the next probe. */
  lingerMs?: number;
  /** The echo data; keepalived's 128 filler bytes by default. */
  payload?: Buffer;
  /** The identifier of a newly opened socket (random by default). */
  identifier?: () => number;
}

export interface Pinger {
  ping(target: CheckTarget, ctx: ProbeContext): Promise<CheckOutcome>;
  /** Ends every ping in flight (as aborted) and closes every socket. */
  close(): void;
  /** How many sockets are open now. */
  openSockets(): number;
}

type Verdict = { ok: true; detail?: string } | { ok: false; reason: string };

interface Waiting {
  to: string;
  finish: (v: Verdict) => void;
}

interface Shared {
  key: string;
  family: 4 | 6;
  socket: IcmpSocket;
  id: number;
  nextSeq: number;
  waiting: Map<number, Waiting>;
  idle?: NodeJS.Timeout;
}

const DEFAULT_LINGER_MS = 2000;

export function createPinger(options: PingerOptions): Pinger {
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  const payload = options.payload ?? keepalivedFiller(128);
  const identifier = options.identifier ?? (() => randomInt(0, 0x10000));
  const shared = new Map<string, Shared>();

  const drop = (s: Shared): void => {
    if (shared.get(s.key) === s) shared.delete(s.key);
    if (s.idle) clearTimeout(s.idle);
    try {
      s.socket.close();
    } catch {
      // already closed after an error
    }
  };

  const receive = (s: Shared, ev: IcmpEvent | undefined): void => {
    if (!ev || ev.id !== s.id) return;
    const w = s.waiting.get(ev.seq);
    if (!w) return;
    if (ev.kind === 'echo-reply') {
      if (ev.from === w.to) w.finish({ ok: true, detail: `echo reply from ${ev.from}` });
    } else if (ev.to === w.to) {
      w.finish({
        ok: false,
        reason: `${describeIcmpError(s.family, ev.kind, ev.code)}${ev.from === w.to ? '' : ` (reported by ${ev.from})`}`,
      });
    }
  };

  const acquire = (target: CheckTarget): Shared | { error: string } => {
    const key = `${target.family}|${target.bindAddress ?? ''}|${target.bindInterface ?? ''}`;
    const known = shared.get(key);
    if (known) return known;
    const family = target.family;
    let s: Shared | undefined;
    const opts: Parameters<OpenIcmpSocket>[0] = { family };
    if (target.bindAddress !== undefined) opts.bindAddress = target.bindAddress;
    if (target.bindInterface !== undefined) opts.bindInterface = target.bindInterface;
    const opened = options.open(opts, {
      message: (packet, source) => {
        if (s) receive(s, parseIcmp(family, packet, source));
      },
      error: (e) => {
        if (!s) return;
        drop(s);
        for (const w of [...s.waiting.values()])
          w.finish({ ok: false, reason: `ICMP socket failed: ${e.message}` });
      },
    });
    if ('error' in opened) return opened;
    const id = identifier() & 0xffff;
    s = { key, family, socket: opened.socket, id, nextSeq: randomInt(0, 0x10000), waiting: new Map() };
    shared.set(key, s);
    return s;
  };

  const ping = (target: CheckTarget, ctx: ProbeContext): Promise<CheckOutcome> => {
    const started = ctx.now();
    const outcome = (v: Verdict): CheckOutcome => {
      const latencyMs = Math.max(0, ctx.now() - started);
      if (!v.ok) return { ok: false, latencyMs, reason: v.reason };
      return v.detail === undefined ? { ok: true, latencyMs } : { ok: true, latencyMs, detail: v.detail };
    };
    if (ctx.signal.aborted) return Promise.resolve(outcome({ ok: false, reason: 'aborted' }));
    const bare = target.address.split('%')[0] ?? target.address;
    if (ipFamily(bare) !== target.family)
      return Promise.resolve(
        outcome({ ok: false, reason: `${target.address} is not an IPv${target.family} address` }),
      );
    const s = acquire(target);
    if ('error' in s) return Promise.resolve(outcome({ ok: false, reason: s.error }));
    const seq = freeSequence(s);
    if (seq === undefined)
      return Promise.resolve(
        outcome({ ok: false, reason: 'too many pings in flight (65536) on one socket' }),
      );
    if (s.idle) {
      clearTimeout(s.idle);
      s.idle = undefined;
    }

    return new Promise<CheckOutcome>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => finish({ ok: false, reason: 'aborted' });
      const finish = (v: Verdict): void => {
        if (s.waiting.get(seq) !== waiting) return;
        s.waiting.delete(seq);
        if (timer) clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        if (s.waiting.size === 0 && shared.get(s.key) === s) {
          s.idle = setTimeout(() => drop(s), lingerMs);
          s.idle.unref();
        }
        resolve(outcome(v));
      };
      const waiting: Waiting = { to: canonicalIp(bare), finish };
      s.waiting.set(seq, waiting);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(
        () => finish({ ok: false, reason: `timeout after ${ctx.timeoutMs} ms, no echo reply` }),
        ctx.timeoutMs,
      );
      s.socket
        .send(echoRequest(s.family, s.id, seq, payload), target.address)
        .catch((e: unknown) =>
          finish({ ok: false, reason: `send: ${e instanceof Error ? e.message : String(e)}` }),
        );
    });
  };

  return {
    ping,
    close: () => {
      for (const s of [...shared.values()]) {
        drop(s);
        for (const w of [...s.waiting.values()]) w.finish({ ok: false, reason: 'aborted' });
      }
    },
    openSockets: () => shared.size,
  };
}

/** The next sequence number with no ping waiting on it, or undefined if all are. */
function freeSequence(s: Shared): number | undefined {
  for (let tries = 0; tries < 0x10000; tries++) {
    const seq = s.nextSeq;
    s.nextSeq = (s.nextSeq + 1) & 0xffff;
    if (!s.waiting.has(seq)) return seq;
  }
  return undefined;
}
