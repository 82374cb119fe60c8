import {
  createNetlink,
  createRtNetlink,
  FlagsNew,
  type NetlinkMessage,
  type NetlinkSocket,
  Protocol,
  type RtNetlinkSocket,
  rt,
} from 'netlink';
import type {
  AddressChange,
  AddressDriver,
  AddressEvent,
  AddressListener,
  LinkInfo,
  LiveAddress,
  Vip,
} from './address-driver.ts';
import { conflict, kernelError, noInterface } from './address-errors.ts';
import { bytesToIp, checkVip, ipToBytes, scopeName } from './vip.ts';

// The VIP driver over rtnetlink (the `netlink` package): RTM_NEWADDR / RTM_DELADDR to
// change addresses, RTM_GETADDR / RTM_GETLINK dumps to read them, and the LINK and
// IFADDR multicast groups for events. A netlink socket belongs to the network namespace
// of the process that opened it.

const AF_INET = 2;
const AF_INET6 = 10;
/** A kernel that does not answer within this is wedged; better an error than a hang. */
const REQUEST_TIMEOUT_MS = 5000;
const EVENT_BUFFER_BYTES = 1 << 20;

export interface NetlinkAddressDriverOptions {
  /**
   * Keep the process alive while someone is subscribed. Off by default: an agent lives
   * on its VRRP sockets and timers, and a driver must not keep a finished CLI run or a
   * test from exiting.
   */
  keepAliveWhileSubscribed?: boolean;
}

export function createNetlinkAddressDriver(options: NetlinkAddressDriverOptions = {}): AddressDriver {
  return new NetlinkAddressDriver(options);
}

class NetlinkAddressDriver implements AddressDriver {
  private readonly requests: RtNetlinkSocket;
  // The package keeps one multipart message in progress per socket, and the kernel runs
  // one dump at a time per socket (EBUSY otherwise): requests go one after another.
  private queue: Promise<unknown> = Promise.resolve();
  private events: EventStream | undefined;
  private readonly listeners = new Set<AddressListener>();

  constructor(private readonly options: NetlinkAddressDriverOptions) {
    this.requests = createRtNetlink();
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async list(ifname?: string): Promise<LiveAddress[]> {
    const links = await this.serial(() => this.requests.getLinks({}, {}, { timeout: REQUEST_TIMEOUT_MS }));
    const names = new Map(links.map((l) => [l.data.index ?? 0, l.attrs.ifname ?? '']));
    const addrs = await this.serial(() =>
      this.requests.getAddresses({}, {}, { timeout: REQUEST_TIMEOUT_MS }),
    );
    const out: LiveAddress[] = [];
    for (const m of addrs) {
      const a = toLiveAddress(m, names);
      if (a && (ifname === undefined || a.ifname === ifname)) out.push(a);
    }
    return out;
  }

  async links(): Promise<LinkInfo[]> {
    const links = await this.serial(() => this.requests.getLinks({}, {}, { timeout: REQUEST_TIMEOUT_MS }));
    return links.map(toLinkInfo);
  }

  async add(vip: Vip): Promise<AddressChange> {
    const check = checkVip(vip);
    if (!check.ok) return check;
    const v = check.vip;
    const index = await this.indexOf(v.dev);
    if (index === 'missing') return { ok: false, error: noInterface(v) };
    if (typeof index !== 'number')
      return { ok: false, error: kernelError(v, 'add', index.errno, index.detail) };
    const bytes = ipToBytes(v.ip);
    const attrs: rt.AddressAttrs = { local: bytes, address: bytes };
    if (v.label !== undefined) attrs.label = v.label;
    if (v.brd !== undefined) attrs.broadcast = ipToBytes(v.brd);
    try {
      await this.serial(() =>
        this.requests.newAddress(
          {
            family: v.family === 4 ? AF_INET : AF_INET6,
            prefixlen: v.prefix,
            index,
            scope: v.scope,
            // A VIP moves between nodes: duplicate address detection would hold it
            // tentative (unusable) for a second or more after every failover.
            flags: v.family === 6 ? { nodad: true } : {},
          },
          attrs,
          { flags: FlagsNew.CREATE | FlagsNew.EXCL, timeout: REQUEST_TIMEOUT_MS },
        ),
      );
      return { ok: true };
    } catch (e) {
      const errno = errnoOf(e);
      if (errno !== 'EEXIST') return { ok: false, error: kernelError(v, 'add', errno, detailOf(e)) };
      // IPv6 refuses a second prefix for the same address with EEXIST too: only the
      // very address and prefix asked for counts as already there.
      if (v.family === 4) return { ok: true, already: true };
      const present = (await this.list(v.dev)).find((a) => a.address.split('/')[0] === v.ip);
      return !present || present.address === v.key
        ? { ok: true, already: true }
        : { ok: false, error: conflict(v, present.address) };
    }
  }

  async remove(vip: Vip): Promise<AddressChange> {
    const check = checkVip(vip, true);
    if (!check.ok) return check;
    const v = check.vip;
    const index = await this.indexOf(v.dev);
    // An interface that is not there holds no address: what was asked already holds.
    if (index === 'missing') return { ok: true, already: true };
    if (typeof index !== 'number')
      return { ok: false, error: kernelError(v, 'remove', index.errno, index.detail) };
    const bytes = ipToBytes(v.ip);
    try {
      await this.serial(() =>
        this.requests.delAddress(
          { family: v.family === 4 ? AF_INET : AF_INET6, prefixlen: v.prefix, index },
          { local: bytes, address: bytes },
          { timeout: REQUEST_TIMEOUT_MS },
        ),
      );
      return { ok: true };
    } catch (e) {
      const errno = errnoOf(e);
      if (errno === 'EADDRNOTAVAIL' || errno === 'ENOENT' || errno === 'ENODEV')
        return { ok: true, already: true };
      return { ok: false, error: kernelError(v, 'remove', errno, detailOf(e)) };
    }
  }

  /**
   * The interface index, looked up by name on every call: an index cached across calls
   * would outlive an interface that is deleted and re-created (a new index) under the
   * same name, and the lookup costs a fraction of a millisecond.
   */
  private async indexOf(dev: string): Promise<number | 'missing' | { errno?: string; detail: string }> {
    try {
      const [link] = await this.serial(() =>
        this.requests.getLink({}, { ifname: dev }, { timeout: REQUEST_TIMEOUT_MS }),
      );
      return link?.data.index ?? 'missing';
    } catch (e) {
      const errno = errnoOf(e);
      if (errno === 'ENODEV') return 'missing';
      return errno ? { errno, detail: detailOf(e) } : { detail: detailOf(e) };
    }
  }

  subscribe(listener: AddressListener): () => void {
    this.listeners.add(listener);
    if (!this.events) {
      this.events = new EventStream(
        (ev) => {
          for (const l of [...this.listeners]) l(ev);
        },
        () => this.links(),
        this.options.keepAliveWhileSubscribed === true,
      );
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.events?.close();
        this.events = undefined;
      }
    };
  }

  close(): void {
    this.listeners.clear();
    this.events?.close();
    this.events = undefined;
    this.requests.socket.close();
  }
}

/**
 * A socket of its own for the multicast groups: the kernel stamps a notification with
 * the sequence number of the request that caused it, so on the request socket our own
 * add's notification would be taken for the add's reply.
 */
class EventStream {
  private readonly socket: NetlinkSocket;
  private readonly names = new Map<number, string>();
  private readonly linkUp = new Map<number, boolean>();
  /** Messages that arrive before the link table is known wait here, in order. */
  private pending: NetlinkMessage[] | undefined = [];
  private closed = false;

  constructor(
    private readonly emit: (ev: AddressEvent) => void,
    links: () => Promise<LinkInfo[]>,
    keepAlive: boolean,
  ) {
    // A link going down can announce many address removals at once; a larger buffer
    // makes an overflow (ENOBUFS, events lost) less likely. sendBufferSize 0 keeps the
    // default (the package's types want both).
    this.socket = createNetlink(Protocol.ROUTE, {
      ref: keepAlive,
      recvBufferSize: EVENT_BUFFER_BYTES,
      sendBufferSize: 0,
    });
    // An overflow surfaces as a socket error; without a listener it would throw.
    this.socket.on('error', (err) => {
      if (!this.closed) this.emit({ kind: 'overflow', reason: err.code ?? err.message });
    });
    // Joined before the link table is read, so nothing that happens in between is lost.
    this.socket.addMembership(rt.MulticastGroups.LINK);
    this.socket.addMembership(rt.MulticastGroups.IPV4_IFADDR);
    this.socket.addMembership(rt.MulticastGroups.IPV6_IFADDR);
    // The package's RtNetlinkSocket 'message' event drops the message type (RTM_NEWADDR
    // and RTM_DELADDR parse to the same object): read the raw messages instead.
    this.socket.on('message', (msgs) => this.receive(msgs));
    links().then(
      (known) => this.seed(known),
      () => this.seed([]),
    );
  }

  private seed(known: LinkInfo[]): void {
    for (const l of known) {
      this.names.set(l.index, l.name);
      this.linkUp.set(l.index, l.up);
    }
    const waiting = this.pending ?? [];
    this.pending = undefined;
    if (!this.closed) this.receive(waiting);
  }

  private receive(msgs: NetlinkMessage[]): void {
    if (this.pending) {
      this.pending.push(...msgs);
      return;
    }
    for (const m of msgs) {
      if (this.closed) return;
      if (m.type === rt.MessageType.NEWLINK || m.type === rt.MessageType.DELLINK) {
        const p = rt.parseMessage(m.type, m.data);
        if (p.kind === 'link') this.onLink(toLinkInfo(p), m.type === rt.MessageType.DELLINK);
      } else if (m.type === rt.MessageType.NEWADDR || m.type === rt.MessageType.DELADDR) {
        const p = rt.parseMessage(m.type, m.data);
        if (p.kind !== 'address') continue;
        const address = toLiveAddress(p, this.names);
        if (!address) continue;
        this.emit({ kind: m.type === rt.MessageType.NEWADDR ? 'address-added' : 'address-removed', address });
      }
    }
  }

  private onLink(link: LinkInfo, deleted: boolean): void {
    if (link.name) this.names.set(link.index, link.name);
    const was = this.linkUp.get(link.index);
    const up = link.up && !deleted;
    if (deleted) this.linkUp.delete(link.index);
    else this.linkUp.set(link.index, up);
    // A link seen for the first time counts as having been down (absent).
    if (up !== (was ?? false)) this.emit({ kind: up ? 'link-up' : 'link-down', link: { ...link, up } });
  }

  close(): void {
    this.closed = true;
    this.socket.close();
  }
}

function toLiveAddress(m: rt.AddressMessage, names: Map<number, string>): LiveAddress | undefined {
  const family = m.data.family === AF_INET ? 4 : m.data.family === AF_INET6 ? 6 : undefined;
  // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on a point-to-point link.
  const bytes = m.attrs.local ?? m.attrs.address;
  if (family === undefined || !bytes) return undefined;
  const ifindex = m.data.index ?? 0;
  const ifname = names.get(ifindex) ?? `if${ifindex}`;
  const out: LiveAddress = {
    address: `${bytesToIp(bytes)}/${m.data.prefixlen ?? 0}`,
    family,
    ifname,
    ifindex,
    scope: scopeName(m.data.scope ?? 0),
  };
  if (m.attrs.label !== undefined && m.attrs.label !== ifname) out.label = m.attrs.label;
  return out;
}

function toLinkInfo(m: rt.LinkMessage): LinkInfo {
  const flags = m.data.flags ?? {};
  const out: LinkInfo = {
    name: m.attrs.ifname ?? '',
    index: m.data.index ?? 0,
    up: flags.up === true && flags.running === true,
  };
  const mac = m.attrs.address;
  if (mac && mac.length > 0) out.mac = [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
  return out;
}

const detailOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The package reports a kernel refusal as Error("Request rejected: EEXIST"). */
function errnoOf(e: unknown): string | undefined {
  const message = e instanceof Error ? e.message : String(e);
  return /Request rejected: (\w+)/.exec(message)?.[1] ?? (e as { code?: string } | null)?.code;
}
