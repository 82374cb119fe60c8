import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  Dataplane,
  DataplaneCapabilities,
  DataplaneKind,
  Probe,
} from '../../src/drivers/dataplane/dataplane.ts';
import { selectDataplane } from '../../src/drivers/dataplane/select-dataplane.ts';
import { NO_IPVS_MESSAGE } from '../../src/drivers/ipvs/ipvs-errors.ts';

// dataplane: auto | ipvs | nftables, with fake probes: what is chosen, what /status says,
// and the errors when a pinned choice cannot run.

const caps = (kind: DataplaneKind): DataplaneCapabilities => ({
  kind,
  schedulers: kind === 'ipvs' ? ['rr', 'wlc'] : ['rr', 'random'],
  forwarding: kind === 'ipvs' ? ['nat', 'dr', 'tun'] : ['nat'],
  protocols: ['TCP', 'UDP'],
  fwmark: kind === 'ipvs',
  persistence: true,
});

function fake(kind: DataplaneKind, probe: Probe | (() => Promise<Probe>)) {
  let probes = 0;
  const d: Dataplane = {
    kind,
    probe: async () => {
      probes++;
      return typeof probe === 'function' ? probe() : probe;
    },
    read: async () => ({ services: [] }),
    apply: async () => ({ added: 0, changed: 0, removed: 0, ms: 0 }),
    clear: async () => undefined,
  };
  return { d, probes: () => probes };
}

const ipvsOk = () => fake('ipvs', { ok: true, capabilities: caps('ipvs') });
const ipvsMissing = () => fake('ipvs', { ok: false, kind: 'ipvs', message: NO_IPVS_MESSAGE });
const nftOk = () => fake('nftables', { ok: true, capabilities: caps('nftables') });
const nftMissing = () =>
  fake('nftables', { ok: false, kind: 'nftables', message: 'nft not found; apt-get install nftables' });

describe('select dataplane', () => {
  it('auto on a kernel with IPVS takes ipvs and does not probe nftables', async () => {
    const ipvs = ipvsOk();
    const nft = nftOk();
    const s = await selectDataplane('auto', { ipvs: ipvs.d, nftables: nft.d });
    assert.ok(s.ok);
    assert.equal(s.dataplane, ipvs.d);
    assert.equal(s.reason, 'auto: kernel has IPVS, using ipvs');
    assert.equal(s.capabilities.kind, 'ipvs');
    assert.equal(nft.probes(), 0);
  });

  it('auto on a kernel without IPVS takes nftables and says why', async () => {
    const nft = nftOk();
    const s = await selectDataplane('auto', { ipvs: ipvsMissing().d, nftables: nft.d });
    assert.ok(s.ok);
    assert.equal(s.dataplane, nft.d);
    assert.equal(s.reason, 'auto: kernel has no IPVS, using nftables');
  });

  it('auto when IPVS is there but unusable names the reason', async () => {
    const ipvs = fake('ipvs', {
      ok: false,
      kind: 'ipvs',
      message: 'the kernel has IPVS but refuses keepgit (EPERM): the agent needs CAP_NET_ADMIN',
    });
    const s = await selectDataplane('auto', { ipvs: ipvs.d, nftables: nftOk().d });
    assert.ok(s.ok);
    assert.match(
      s.reason,
      /^auto: IPVS unusable \(the kernel has IPVS but refuses keepgit \(EPERM\).*\), using nftables$/,
    );
  });

  it('auto with neither is an error that gives both reasons', async () => {
    const s = await selectDataplane('auto', { ipvs: ipvsMissing().d, nftables: nftMissing().d });
    assert.deepEqual(s, {
      ok: false,
      message: `no load-balancing dataplane works on this node: ipvs: ${NO_IPVS_MESSAGE}; nftables: nft not found; apt-get install nftables`,
    });
  });

  it('ipvs pinned on a kernel that lacks it is an error, never a silent fallback', async () => {
    const nft = nftOk();
    const s = await selectDataplane('ipvs', { ipvs: ipvsMissing().d, nftables: nft.d });
    assert.ok(!s.ok);
    assert.equal(
      s.message,
      'dataplane ipvs is pinned, but kernel has no IPVS (family not registered); use dataplane: nftables, or load the module with `modprobe ip_vs` on a host that has it',
    );
    assert.equal(nft.probes(), 0);
  });

  it('ipvs pinned and present', async () => {
    const ipvs = ipvsOk();
    const s = await selectDataplane('ipvs', { ipvs: ipvs.d, nftables: nftOk().d });
    assert.ok(s.ok);
    assert.equal(s.dataplane, ipvs.d);
    assert.equal(s.reason, 'pinned: ipvs');
  });

  it('nftables pinned is used even where IPVS exists, which is not probed', async () => {
    const ipvs = ipvsOk();
    const s = await selectDataplane('nftables', { ipvs: ipvs.d, nftables: nftOk().d });
    assert.ok(s.ok);
    assert.equal(s.reason, 'pinned: nftables');
    assert.equal(ipvs.probes(), 0);
  });

  it('nftables pinned but unavailable', async () => {
    const s = await selectDataplane('nftables', { ipvs: ipvsOk().d, nftables: nftMissing().d });
    assert.deepEqual(s, {
      ok: false,
      message: 'dataplane nftables is pinned, but nft not found; apt-get install nftables',
    });
  });

  it('a probe that throws (against its contract) is treated as unavailable, not a crash', async () => {
    const ipvs = fake('ipvs', () => Promise.reject(new Error('socket exploded')));
    const s = await selectDataplane('auto', { ipvs: ipvs.d, nftables: nftOk().d });
    assert.ok(s.ok);
    assert.equal(s.reason, 'auto: IPVS unusable (probe failed: socket exploded), using nftables');
  });
});
