import assert from 'node:assert/strict';
import type { AddressDriver, AddressEvent, LiveAddress } from '../../src/drivers/addresses/address-driver.ts';

// What every VIP driver must do, the fake in memory and the netlink driver in a network
// namespace alike: the same checks, so that the fake the upper layers are tested with
// cannot drift from the kernel. Each check gets a fresh driver and leaves the interface
// as it found it (up, without the test's addresses). Documentation addresses only.

/** Changes made behind the driver's back, as `ip addr del` and `ip link set` make them. */
export interface OutsideHooks<D extends AddressDriver> {
  /** An interface that exists and is up; the checks set it down and up again. */
  ifname: string;
  /** A name no interface has. */
  missingIfname: string;
  removeAddress(driver: D, ifname: string, address: string): Promise<void>;
  setLinkUp(driver: D, ifname: string, up: boolean): Promise<void>;
}

export interface ContractCheck {
  name: string;
  run<D extends AddressDriver>(driver: D, hooks: OutsideHooks<D>): Promise<void>;
}

const V4 = '192.0.2.10/32';
const V4_NET = '192.0.2.20/24';
const V6 = '2001:db8::10/128';
const V6_OTHER_PREFIX = '2001:db8::10/64';
const TEST_ADDRESSES = [V4, V4_NET, V6, V6_OTHER_PREFIX];

/** How long an event may take; the kernel needs a few milliseconds. */
export const EVENT_TIMEOUT_MS = 1000;

/** Events from the moment of the call; `until` waits for one that matches. */
function watch(driver: AddressDriver) {
  const seen: AddressEvent[] = [];
  const waiters = new Set<() => void>();
  const stop = driver.subscribe((ev) => {
    seen.push(ev);
    for (const w of [...waiters]) w();
  });
  return {
    seen,
    stop,
    until(what: string, match: (ev: AddressEvent) => boolean, ms = EVENT_TIMEOUT_MS): Promise<AddressEvent> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = seen.find(match);
          if (!hit) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`no ${what} event within ${ms} ms; events seen: ${JSON.stringify(seen.map(brief))}`),
          );
        }, ms);
        waiters.add(check);
        check();
      });
    },
  };
}

const brief = (ev: AddressEvent): string =>
  ev.kind === 'overflow'
    ? ev.kind
    : 'address' in ev
      ? `${ev.kind} ${ev.address.address} ${ev.address.ifname}`
      : `${ev.kind} ${ev.link.name}`;

const isAddress =
  (kind: 'address-added' | 'address-removed', address: string, ifname: string) => (ev: AddressEvent) =>
    ev.kind === kind && ev.address.address === address && ev.address.ifname === ifname;

const isLink = (kind: 'link-up' | 'link-down', ifname: string) => (ev: AddressEvent) =>
  ev.kind === kind && ev.link.name === ifname;

async function find(
  driver: AddressDriver,
  ifname: string,
  address: string,
): Promise<LiveAddress | undefined> {
  return (await driver.list(ifname)).find((a) => a.address === address);
}

export const addressDriverChecks: ContractCheck[] = [
  {
    name: 'adds an IPv4 /32 with a label and lists it with that label',
    async run(d, h) {
      const label = `${h.ifname}:vip`;
      assert.deepEqual(await d.add({ address: V4, dev: h.ifname, label }), { ok: true });
      const a = await find(d, h.ifname, V4);
      assert.ok(a, `${V4} not listed on ${h.ifname}`);
      assert.equal(a.family, 4);
      assert.equal(a.ifname, h.ifname);
      assert.equal(a.label, label);
      assert.equal(a.scope, 'global');
      assert.ok(
        (await d.list()).some((x) => x.address === V4 && x.ifname === h.ifname),
        'list() without a name',
      );
    },
  },
  {
    name: 'an unlabelled IPv4 address lists without a label',
    async run(d, h) {
      assert.equal((await d.add({ address: V4, dev: h.ifname })).ok, true);
      assert.equal((await find(d, h.ifname, V4))?.label, undefined);
    },
  },
  {
    name: 'adding a present address is ok and already',
    async run(d, h) {
      assert.deepEqual(await d.add({ address: V4, dev: h.ifname }), { ok: true });
      assert.deepEqual(await d.add({ address: V4, dev: h.ifname }), { ok: true, already: true });
      assert.deepEqual(await d.add({ address: V6, dev: h.ifname }), { ok: true });
      assert.deepEqual(await d.add({ address: V6, dev: h.ifname }), { ok: true, already: true });
    },
  },
  {
    name: 'adds an IPv6 /128 and lists it (no duplicate address detection)',
    async run(d, h) {
      assert.deepEqual(await d.add({ address: '2001:DB8:0::10/128', dev: h.ifname }), { ok: true });
      const a = await find(d, h.ifname, V6);
      assert.ok(a, `${V6} not listed on ${h.ifname} (canonical text expected)`);
      assert.equal(a.family, 6);
      assert.equal(a.scope, 'global');
    },
  },
  {
    name: 'an address without /prefix gets the host length',
    async run(d, h) {
      assert.deepEqual(await d.add({ address: '192.0.2.10', dev: h.ifname }), { ok: true });
      assert.ok(await find(d, h.ifname, V4));
    },
  },
  {
    name: 'takes a prefix, a scope and a derived broadcast',
    async run(d, h) {
      assert.deepEqual(await d.add({ address: V4_NET, dev: h.ifname, scope: 'link', brd: '+' }), {
        ok: true,
      });
      assert.equal((await find(d, h.ifname, V4_NET))?.scope, 'link');
    },
  },
  {
    name: 'removes an address; removing it again is ok and already',
    async run(d, h) {
      for (const address of [V4, V6]) {
        assert.equal((await d.add({ address, dev: h.ifname })).ok, true);
        assert.deepEqual(await d.remove({ address, dev: h.ifname }), { ok: true });
        assert.equal(await find(d, h.ifname, address), undefined, `${address} still listed after remove`);
        assert.deepEqual(await d.remove({ address, dev: h.ifname }), { ok: true, already: true });
      }
    },
  },
  {
    name: 'remove matches address and prefix, not the label',
    async run(d, h) {
      assert.equal((await d.add({ address: V4, dev: h.ifname, label: `${h.ifname}:a` })).ok, true);
      assert.deepEqual(await d.remove({ address: '192.0.2.10/24', dev: h.ifname }), {
        ok: true,
        already: true,
      });
      assert.ok(await find(d, h.ifname, V4), 'another prefix must not remove the address');
      assert.deepEqual(await d.remove({ address: V4, dev: h.ifname, label: `${h.ifname}:b` }), { ok: true });
    },
  },
  {
    name: 'removing from a missing interface is ok and already',
    async run(d, h) {
      assert.deepEqual(await d.remove({ address: V4, dev: h.missingIfname }), { ok: true, already: true });
    },
  },
  {
    name: 'adding on a missing interface is an error naming the interface',
    async run(d, h) {
      const r = await d.add({ address: V4, dev: h.missingIfname });
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.error.code, 'no-such-interface');
      assert.match(r.error.message, new RegExp(h.missingIfname));
      assert.match(r.error.message, /192\.0\.2\.10\/32/);
    },
  },
  {
    name: 'a label over 15 characters is an error naming the label; none is added',
    async run(d, h) {
      const label = `${h.ifname}:0123456789abcdef`;
      const r = await d.add({ address: V4, dev: h.ifname, label });
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.error.code, 'invalid-label');
      assert.ok(r.error.message.includes(label), r.error.message);
      assert.equal(await find(d, h.ifname, V4), undefined);
    },
  },
  {
    name: 'a label on an IPv6 address is an error (the kernel keeps none)',
    async run(d, h) {
      const r = await d.add({ address: V6, dev: h.ifname, label: `${h.ifname}:v6` });
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.error.code, 'invalid-label');
    },
  },
  {
    name: 'an invalid address is an error naming it',
    async run(d, h) {
      for (const address of ['192.0.2.300/32', '192.0.2.10/33', 'vip1']) {
        const r = await d.add({ address, dev: h.ifname });
        assert.equal(r.ok, false, address);
        if (!r.ok) {
          assert.equal(r.error.code, 'invalid-address');
          assert.ok(r.error.message.includes(address), r.error.message);
        }
      }
    },
  },
  {
    name: 'an IPv6 address present with another prefix is a conflict, not already',
    async run(d, h) {
      assert.equal((await d.add({ address: V6, dev: h.ifname })).ok, true);
      const r = await d.add({ address: V6_OTHER_PREFIX, dev: h.ifname });
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.error.code, 'address-conflict');
        assert.ok(r.error.message.includes(V6), r.error.message);
      }
    },
  },
  {
    name: 'links() lists the interface, up, with its index and MAC',
    async run(d, h) {
      const l = (await d.links()).find((x) => x.name === h.ifname);
      assert.ok(l, `${h.ifname} not in links()`);
      assert.equal(l.up, true);
      assert.ok(l.index > 0);
      assert.match(l.mac ?? '', /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    },
  },
  {
    name: 'events for its own add and remove',
    async run(d, h) {
      const w = watch(d);
      try {
        await d.add({ address: V4, dev: h.ifname, label: `${h.ifname}:vip` });
        const added = await w.until('address-added', isAddress('address-added', V4, h.ifname));
        if (added.kind === 'address-added') assert.equal(added.address.label, `${h.ifname}:vip`);
        await d.add({ address: V6, dev: h.ifname });
        await w.until('address-added', isAddress('address-added', V6, h.ifname));
        await d.remove({ address: V4, dev: h.ifname });
        await w.until('address-removed', isAddress('address-removed', V4, h.ifname));
      } finally {
        w.stop();
      }
    },
  },
  {
    name: 'an outside removal (ip addr del) is seen within 1 s',
    async run(d, h) {
      assert.equal((await d.add({ address: V4, dev: h.ifname })).ok, true);
      assert.equal((await d.add({ address: V6, dev: h.ifname })).ok, true);
      const w = watch(d);
      try {
        for (const address of [V4, V6]) {
          await h.removeAddress(d, h.ifname, address);
          await w.until(`address-removed ${address}`, isAddress('address-removed', address, h.ifname));
          assert.equal(await find(d, h.ifname, address), undefined);
        }
      } finally {
        w.stop();
      }
    },
  },
  {
    name: 'link down: link-down event, IPv6 addresses flushed with events, IPv4 kept; link up: link-up',
    async run(d, h) {
      assert.equal((await d.add({ address: V4, dev: h.ifname, label: `${h.ifname}:vip` })).ok, true);
      assert.equal((await d.add({ address: V6, dev: h.ifname })).ok, true);
      const w = watch(d);
      try {
        await h.setLinkUp(d, h.ifname, false);
        await w.until('link-down', isLink('link-down', h.ifname));
        await w.until('address-removed (IPv6 flushed)', isAddress('address-removed', V6, h.ifname));
        assert.equal(await find(d, h.ifname, V6), undefined, 'IPv6 VIP survived link down');
        assert.equal((await find(d, h.ifname, V4))?.label, `${h.ifname}:vip`, 'IPv4 VIP lost on link down');
        assert.equal((await d.links()).find((l) => l.name === h.ifname)?.up, false);
        assert.ok(!w.seen.some(isAddress('address-removed', V4, h.ifname)), 'IPv4 removal announced');
        await h.setLinkUp(d, h.ifname, true);
        await w.until('link-up', isLink('link-up', h.ifname));
        // Back up, the IPv6 VIP is the agent's to put back: it may do so at once.
        assert.deepEqual(await d.add({ address: V6, dev: h.ifname }), { ok: true });
      } finally {
        w.stop();
      }
    },
  },
  {
    name: 'no events after unsubscribe',
    async run(d, h) {
      const w = watch(d);
      w.stop();
      const other = watch(d);
      try {
        await d.add({ address: V4, dev: h.ifname });
        await other.until('address-added', isAddress('address-added', V4, h.ifname));
        assert.deepEqual(w.seen, []);
      } finally {
        other.stop();
      }
    },
  },
];

/** Puts the interface back as the checks found it: up, none of the test's addresses. */
async function restore<D extends AddressDriver>(d: D, h: OutsideHooks<D>): Promise<void> {
  if ((await d.links()).find((l) => l.name === h.ifname)?.up !== true) await h.setLinkUp(d, h.ifname, true);
  for (const address of TEST_ADDRESSES) await d.remove({ address, dev: h.ifname });
}

/** Runs one check against a fresh driver, cleaning up even when it fails. */
export async function runCheck<D extends AddressDriver>(
  check: ContractCheck,
  makeDriver: () => D | Promise<D>,
  hooks: OutsideHooks<D>,
): Promise<void> {
  const d = await makeDriver();
  try {
    await restore(d, hooks);
    await check.run(d, hooks);
  } finally {
    try {
      await restore(d, hooks);
    } finally {
      d.close();
    }
  }
}

/** Every check, in order; throws the first failure with the check's name. Returns the names passed. */
export async function addressDriverContract<D extends AddressDriver>(
  makeDriver: () => D | Promise<D>,
  hooks: OutsideHooks<D>,
): Promise<string[]> {
  const passed: string[] = [];
  for (const check of addressDriverChecks) {
    try {
      await runCheck(check, makeDriver, hooks);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new Error(`address driver contract: "${check.name}" failed: ${message}`, { cause: e });
    }
    passed.push(check.name);
  }
  return passed;
}
