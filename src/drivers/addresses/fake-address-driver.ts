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
import { type CheckedVip, checkVip, scopeName, validInterfaceName } from './vip.ts';

// The VIP driver in memory, for the layers above. It keeps the kernel's rules that a
// reconcile can trip over: one prefix per IPv6 address on a link, IPv6 addresses
// flushed when a link is set down (IPv4 ones stay), labels for IPv4 only. `outside`
// changes the node the way an operator or the kernel would, behind the driver's back.
// Events are delivered on a microtask, after the call that caused them returns, as the
// kernel's notifications arrive after its answer.

interface FakeLink {
  index: number;
  adminUp: boolean;
  carrier: boolean;
  mac: string;
  /** By "ip/prefix", in the order they were added. */
  addresses: Map<string, LiveAddress>;
}

export interface FakeLinkSpec {
  name: string;
  /** Administratively up (default true). */
  up?: boolean;
  /** Carrier present (default true). */
  carrier?: boolean;
  mac?: string;
}

/** What the kernel would refuse next, to test the layers' handling of a failed change. */
export interface InjectedFailure {
  op: 'add' | 'remove';
  errno: string;
}

export class FakeAddressDriver implements AddressDriver {
  private readonly byName = new Map<string, FakeLink>();
  private readonly listeners = new Set<AddressListener>();
  private nextIndex = 1;
  private readonly failures: InjectedFailure[] = [];
  private closed = false;

  constructor(links: FakeLinkSpec[] = [{ name: 'lo' }, { name: 'eth0' }]) {
    for (const l of links) this.createLink(l);
  }

  async list(ifname?: string): Promise<LiveAddress[]> {
    const out: LiveAddress[] = [];
    for (const [name, link] of this.byName)
      if (ifname === undefined || name === ifname)
        for (const a of link.addresses.values()) out.push({ ...a });
    return out;
  }

  async links(): Promise<LinkInfo[]> {
    return [...this.byName.entries()].map(([name, l]) => linkInfo(name, l));
  }

  async add(vip: Vip): Promise<AddressChange> {
    const check = checkVip(vip);
    if (!check.ok) return check;
    const v = check.vip;
    const link = this.byName.get(v.dev);
    if (!link) return { ok: false, error: noInterface(v) };
    const injected = this.takeFailure('add');
    if (injected) return { ok: false, error: kernelError(v, 'add', injected, injected) };
    if (link.addresses.has(v.key)) return { ok: true, already: true };
    if (v.family === 6) {
      const other = [...link.addresses.keys()].find((k) => k.split('/')[0] === v.ip);
      if (other) return { ok: false, error: conflict(v, other) };
    }
    this.put(v.dev, link, v);
    return { ok: true };
  }

  async remove(vip: Vip): Promise<AddressChange> {
    const check = checkVip(vip, true);
    if (!check.ok) return check;
    const v = check.vip;
    const link = this.byName.get(v.dev);
    if (!link) return { ok: true, already: true };
    const injected = this.takeFailure('remove');
    if (injected) return { ok: false, error: kernelError(v, 'remove', injected, injected) };
    if (!this.drop(link, v.key)) return { ok: true, already: true };
    return { ok: true };
  }

  subscribe(listener: AddressListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  /** Changes made by someone else: `ip addr`, `ip link`, the kernel. */
  readonly outside = {
    /** `ip addr add`. Throws what `ip` would print, for a test that gets it wrong. */
    addAddress: (vip: Vip): void => {
      const check = checkVip(vip);
      if (!check.ok) throw new Error(check.error.message);
      const link = this.byName.get(vip.dev);
      if (!link) throw new Error(`fake: no interface ${vip.dev}`);
      if (!link.addresses.has(check.vip.key)) this.put(vip.dev, link, check.vip);
    },
    /** `ip addr del ADDRESS dev IFNAME`; false when there was nothing to delete. */
    removeAddress: (ifname: string, address: string): boolean => {
      const check = checkVip({ address, dev: ifname }, true);
      const link = this.byName.get(ifname);
      return check.ok && link !== undefined && this.drop(link, check.vip.key);
    },
    /** `ip link set IFNAME up|down`. Down flushes the link's IPv6 addresses, as the kernel does. */
    setLinkUp: (ifname: string, up: boolean): void => {
      const link = this.mustLink(ifname);
      const was = linkInfo(ifname, link).up;
      link.adminUp = up;
      if (!up) for (const [key, a] of [...link.addresses]) if (a.family === 6) this.drop(link, key);
      this.announceLink(ifname, link, was);
    },
    /** The cable or the veth peer: carrier changes keep every address. */
    setCarrier: (ifname: string, carrier: boolean): void => {
      const link = this.mustLink(ifname);
      const was = linkInfo(ifname, link).up;
      link.carrier = carrier;
      this.announceLink(ifname, link, was);
    },
    addLink: (spec: FakeLinkSpec): void => {
      if (this.byName.has(spec.name)) throw new Error(`fake: interface ${spec.name} exists`);
      const link = this.createLink(spec);
      this.announceLink(spec.name, link, false);
    },
    /** The link and its addresses go, with an event for each address as the kernel sends. */
    deleteLink: (ifname: string): void => {
      const link = this.mustLink(ifname);
      const was = linkInfo(ifname, link).up;
      for (const key of [...link.addresses.keys()]) this.drop(link, key);
      this.byName.delete(ifname);
      if (was) this.emit({ kind: 'link-down', link: { ...linkInfo(ifname, link), up: false } });
    },
    /** The next add or remove that reaches the "kernel" fails with this errno. */
    failNext: (failure: InjectedFailure): void => {
      this.failures.push(failure);
    },
    /** Notifications lost (ENOBUFS): tells subscribers to list again. */
    overflow: (): void => this.emit({ kind: 'overflow', reason: 'ENOBUFS' }),
  };

  private createLink(spec: FakeLinkSpec): FakeLink {
    if (!validInterfaceName(spec.name)) throw new Error(`fake: invalid interface name ${spec.name}`);
    const index = this.nextIndex++;
    const link: FakeLink = {
      index,
      adminUp: spec.up ?? true,
      carrier: spec.carrier ?? true,
      mac:
        spec.mac ??
        `02:00:00:00:${(index >> 8).toString(16).padStart(2, '0')}:${(index & 0xff).toString(16).padStart(2, '0')}`,
      addresses: new Map(),
    };
    this.byName.set(spec.name, link);
    return link;
  }

  private mustLink(ifname: string): FakeLink {
    const link = this.byName.get(ifname);
    if (!link) throw new Error(`fake: no interface ${ifname}`);
    return link;
  }

  private takeFailure(op: InjectedFailure['op']): string | undefined {
    const i = this.failures.findIndex((f) => f.op === op);
    if (i < 0) return undefined;
    return this.failures.splice(i, 1)[0]?.errno;
  }

  private put(ifname: string, link: FakeLink, v: CheckedVip): void {
    const a: LiveAddress = {
      address: v.key,
      family: v.family,
      ifname,
      ifindex: link.index,
      scope: scopeName(v.scope),
    };
    if (v.label !== undefined && v.label !== ifname) a.label = v.label;
    link.addresses.set(v.key, a);
    this.emit({ kind: 'address-added', address: { ...a } });
  }

  private drop(link: FakeLink, key: string): boolean {
    const a = link.addresses.get(key);
    if (!a) return false;
    link.addresses.delete(key);
    this.emit({ kind: 'address-removed', address: { ...a } });
    return true;
  }

  private announceLink(ifname: string, link: FakeLink, was: boolean): void {
    const now = linkInfo(ifname, link);
    if (now.up !== was) this.emit({ kind: now.up ? 'link-up' : 'link-down', link: now });
  }

  private emit(ev: AddressEvent): void {
    if (this.closed) return;
    queueMicrotask(() => {
      for (const l of [...this.listeners]) l(ev);
    });
  }
}

function linkInfo(name: string, l: FakeLink): LinkInfo {
  return { name, index: l.index, up: l.adminUp && l.carrier, mac: l.mac };
}
