import type { AdvertFields } from '../../vrrp/advert.ts';
import { VRRP_GROUP_V4, VRRP_GROUP_V6 } from '../../vrrp/advert.ts';
import { buildFrame, identificationCounter, stampIdentification } from './frame.ts';
import {
  interfaceIndex,
  openSharedSocket,
  type SharedVrrpSocket,
  type SocketMember,
  socketKey,
} from './shared-socket.ts';
import {
  type AdvertListener,
  checkFamily,
  destinations,
  newCounters,
  type OpenTransport,
  type ReceivedAdvert,
  snapshot,
  type Transport,
  type TransportCounters,
  type TransportOptions,
} from './transport.ts';

export * from './transport.ts';

// The real VRRP transport: one instance's view of a raw socket for protocol 112 bound to
// its interface. The socket itself is shared with the other instances on the same
// interface (shared-socket.ts); what is per transport is its VRID filter, its listeners,
// its IP Identification counter, its counters and its encoded frames.
//
// Frames: an instance sends the same advert every interval until its priority changes,
// so the frames of the last advert sent are kept and only their Identification is
// rewritten for the next send (the instance passes the same AdvertFields object while
// nothing changed). Counters read as if the socket were the transport's own: drops before
// the VRID filter are the socket's since the transport opened, and `wrong-vrid` is every
// advert that passed the socket's checks but was for another VRID.

/** The open sockets, by socketKey: held here, so a socket is never collected while in use. */
const sockets = new Map<string, SharedVrrpSocket>();

export const openVrrpTransport: OpenTransport = async (options) => {
  const ifindex = interfaceIndex(options.ifname);
  const key = socketKey(options, ifindex);
  let shared = sockets.get(key);
  if (!shared?.isOpen) {
    const opened = openSharedSocket(options, ifindex, () => {
      if (sockets.get(key) === opened) sockets.delete(key);
    });
    sockets.set(key, opened);
    shared = opened;
  }
  return new RawTransport(shared, options);
};

interface Frame {
  dst: string;
  bytes: Buffer;
}

class RawTransport implements Transport, SocketMember {
  readonly options: Readonly<TransportOptions>;
  readonly vrid: number | undefined;
  private readonly own = newCounters();
  /** The socket's counters when this transport joined it. */
  private readonly base: TransportCounters;
  private readonly listeners = new Set<AdvertListener>();
  private readonly nextId = identificationCounter();
  private readonly group: string;
  private lastAdvert: AdvertFields | undefined;
  private frames: Frame[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    private readonly shared: SharedVrrpSocket,
    options: TransportOptions,
  ) {
    this.options = { ...options, unicastPeers: [...(options.unicastPeers ?? [])] };
    this.vrid = options.vrid;
    this.group = options.family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6;
    this.base = snapshot(shared.counters);
    shared.attach(this);
  }

  send(advert: AdvertFields): Promise<void> {
    if (this.closing) {
      this.own.sendErrors++;
      return Promise.reject(new Error(`VRRP send on ${this.options.ifname}: transport closed`));
    }
    if (advert !== this.lastAdvert) {
      try {
        checkFamily(this.options, advert);
        this.frames = destinations(this.options, this.group).map((dst) => ({
          dst,
          bytes: buildFrame(advert, this.options, dst, 0),
        }));
      } catch (e) {
        this.lastAdvert = undefined;
        return Promise.reject(e);
      }
      this.lastAdvert = advert;
    }
    let failure: Error | undefined;
    let queued: Promise<void>[] | undefined;
    for (const f of this.frames) {
      if (this.options.family === 4) stampIdentification(f.bytes, this.nextId());
      try {
        const later = this.shared.send(f.bytes, f.dst);
        if (later === undefined) this.own.sent++;
        else {
          queued ??= [];
          queued.push(
            later.then(
              () => {
                this.own.sent++;
              },
              (e: unknown) => {
                this.own.sendErrors++;
                throw this.sendError(f.dst, e);
              },
            ),
          );
        }
      } catch (e) {
        this.own.sendErrors++;
        failure ??= this.sendError(f.dst, e);
      }
    }
    if (failure) {
      // The queued copies still go out; their outcome is counted, the first error is ours.
      for (const q of queued ?? []) q.catch(() => {});
      return Promise.reject(failure);
    }
    return queued === undefined ? SENT : Promise.all(queued).then(() => {});
  }

  onAdvert(listener: AdvertListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  counters(): TransportCounters {
    const s = this.shared.counters;
    const b = this.base;
    const c: TransportCounters = {
      ...snapshot(this.own),
      receiveErrors: s.receiveErrors - b.receiveErrors,
    };
    for (const [reason, n] of Object.entries(s.dropped) as [keyof typeof s.dropped, number][]) {
      const since = n - (b.dropped[reason] ?? 0);
      if (since > 0) c.dropped[reason] = since;
    }
    const otherVrid = s.received - b.received - this.own.received;
    if (this.vrid !== undefined && otherVrid > 0) c.dropped['wrong-vrid'] = otherVrid;
    return c;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.listeners.clear();
      await this.shared.detach(this);
    })();
    return this.closing;
  }

  deliver(received: ReceivedAdvert): void {
    if (this.closing) return;
    this.own.received++;
    if (this.options.family === 6) this.own.hopLimitUnchecked++;
    for (const l of this.listeners) l(received);
  }

  private sendError(dst: string, e: unknown): Error {
    return new Error(`VRRP send to ${dst} on ${this.options.ifname}: ${(e as Error).message ?? String(e)}`);
  }
}

const SENT: Promise<void> = Promise.resolve();
