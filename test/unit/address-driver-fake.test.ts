import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AddressEvent } from '../../src/drivers/addresses/address-driver.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { addressDriverChecks, type OutsideHooks, runCheck } from './address-driver-contract.ts';

// The fake passes the same contract as the netlink driver (test/lab/address-driver-real.test.ts),
// with its `outside` hooks standing in for `ip addr del` and `ip link set`.

const hooks: OutsideHooks<FakeAddressDriver> = {
  ifname: 'eth0',
  missingIfname: 'eth9',
  async removeAddress(d, ifname, address) {
    assert.ok(d.outside.removeAddress(ifname, address), `fake: ${address} was not on ${ifname}`);
  },
  async setLinkUp(d, ifname, up) {
    d.outside.setLinkUp(ifname, up);
  },
};

describe('fake address driver: the shared contract', () => {
  for (const check of addressDriverChecks) {
    it(check.name, () => runCheck(check, () => new FakeAddressDriver(), hooks));
  }
});

describe('fake address driver: outside changes', () => {
  const events = (d: FakeAddressDriver): AddressEvent[] => {
    const seen: AddressEvent[] = [];
    d.subscribe((ev) => seen.push(ev));
    return seen;
  };
  const settle = () => new Promise((r) => setImmediate(r));

  it('carrier loss takes the link down but keeps every address', async () => {
    const d = new FakeAddressDriver();
    await d.add({ address: '2001:db8::10/128', dev: 'eth0' });
    const seen = events(d);
    d.outside.setCarrier('eth0', false);
    await settle();
    assert.deepEqual(
      seen.map((e) => e.kind),
      ['link-down'],
    );
    assert.equal((await d.list('eth0')).length, 1);
  });

  it('a deleted link takes its addresses with it, with events', async () => {
    const d = new FakeAddressDriver();
    await d.add({ address: '192.0.2.10/32', dev: 'eth0' });
    const seen = events(d);
    d.outside.deleteLink('eth0');
    await settle();
    assert.deepEqual(
      seen.map((e) => e.kind),
      ['address-removed', 'link-down'],
    );
    assert.deepEqual(await d.list(), []);
  });

  it('a new link that comes up is announced', async () => {
    const d = new FakeAddressDriver();
    const seen = events(d);
    d.outside.addLink({ name: 'eth1' });
    d.outside.addLink({ name: 'eth2', up: false });
    await settle();
    assert.deepEqual(seen, [{ kind: 'link-up', link: (await d.links()).find((l) => l.name === 'eth1') }]);
  });

  it('an injected kernel refusal comes back as a value naming address and interface', async () => {
    const d = new FakeAddressDriver();
    d.outside.failNext({ op: 'add', errno: 'EPERM' });
    const r = await d.add({ address: '192.0.2.10/32', dev: 'eth0' });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.code, 'not-permitted');
      assert.match(r.error.message, /192\.0\.2\.10\/32 to eth0.*CAP_NET_ADMIN/);
    }
    assert.deepEqual(await d.add({ address: '192.0.2.10/32', dev: 'eth0' }), { ok: true });
  });

  it('an overflow tells subscribers to list again', async () => {
    const d = new FakeAddressDriver();
    const seen = events(d);
    d.outside.overflow();
    await settle();
    assert.deepEqual(seen, [{ kind: 'overflow', reason: 'ENOBUFS' }]);
  });

  it('no events after close', async () => {
    const d = new FakeAddressDriver();
    const seen = events(d);
    d.close();
    d.outside.addAddress({ address: '192.0.2.10/32', dev: 'eth0' });
    await settle();
    assert.deepEqual(seen, []);
  });
});
