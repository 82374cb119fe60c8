import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { exportKeepalived } from '../../src/config/export-keepalived.ts';
import { type ImportResult, importKeepalived } from '../../src/config/import-keepalived.ts';
import { parseKeepalivedConf } from '../../src/config/keepalived-parse.ts';
import type {
  Check,
  ClusterDoc,
  Instance,
  NodeDoc,
  RealServer,
  VirtualServer,
} from '../../src/model/cluster-schema.ts';
import { nodeView } from '../../src/model/node-view.ts';
import { FIXTURE_SETS } from './fixture-sets.ts';

// import → export → import gives back the same model: every node's resolved view is
// equal. (Views, not documents: the importer may write a value on the instance that the
// first import had in defaults; what a node runs is what must not change.)

function importTexts(texts: Record<string, string>): ImportResult {
  return importKeepalived(
    Object.entries(texts).map(([node, text]) => {
      const file = `${node}.conf`;
      const r = parseKeepalivedConf(text, file);
      if (!r.ok) throw new Error(`${file}:${r.error.pos.line}: ${r.error.message}\n${text}`);
      return { node, file, statements: r.statements, notices: r.notices };
    }),
  );
}

function exportAll(m: { cluster: ClusterDoc; nodes: NodeDoc[] }): Record<string, string> {
  return Object.fromEntries(
    m.nodes.map((n) => [n.metadata.name, exportKeepalived(nodeView(m.cluster, m.nodes, n.metadata.name))]),
  );
}

function assertSameViews(
  a: { cluster: ClusterDoc; nodes: NodeDoc[] },
  b: { cluster: ClusterDoc; nodes: NodeDoc[] },
) {
  assert.deepEqual(b.nodes.map((n) => n.metadata.name).sort(), a.nodes.map((n) => n.metadata.name).sort());
  for (const n of a.nodes) {
    const name = n.metadata.name;
    assert.deepEqual(nodeView(b.cluster, b.nodes, name), nodeView(a.cluster, a.nodes, name), `node ${name}`);
  }
}

describe('import → export → import', () => {
  for (const set of FIXTURE_SETS) {
    it(`round-trips ${Object.values(set).join(' + ')}`, () => {
      const m1 = importTexts(
        Object.fromEntries(
          Object.entries(set).map(([n, f]) => [n, readFileSync(`test/fixtures/keepalived/${f}`, 'utf8')]),
        ),
      );
      const texts = exportAll(m1);
      const m2 = importTexts(texts);
      assert.deepEqual(m2.unsupported, [], 'the export uses only keywords the importer maps');
      assertSameViews(m1, m2);
      for (const t of Object.values(texts)) {
        for (const secret of ['1111', '1010', 'P@ssW0rd', '1234'])
          assert.doesNotMatch(t, new RegExp(`\\b${secret}\\b`));
      }
    });
  }
});

// Arbitrary models within what keepalived.conf can say: two nodes sharing every
// instance, IPv4 or IPv6 VIPs, per-node or shared interfaces, tracking, notify, unicast,
// virtual servers with TCP / HTTP / MISC checks. Names are not generated for virtual
// servers: keepalived has none, so they cannot survive a trip through its format.
const dur = (...xs: string[]) => fc.constantFrom(...xs);
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const strip = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const vipArb = (family: 4 | 6, k: number) =>
  fc
    .record({
      host: fc.integer({ min: 1, max: 250 }),
      prefix: family === 4 ? fc.constantFrom(24, 32) : fc.constantFrom(64, 128),
      label: opt(fc.constantFrom('eth0:vip', 'vip1')),
    })
    .map(({ host, prefix, label }) => {
      const address =
        family === 4
          ? `192.0.${k % 3 === 0 ? 2 : 3}.${host}/${prefix}`
          : `2001:db8:${k}::${host.toString(16)}/${prefix}`;
      return label && family === 4 ? { address, label } : address;
    });

const instanceArb = (k: number): fc.Arbitrary<Instance> =>
  fc
    .record({
      family: fc.constantFrom(4 as const, 6 as const),
      version: fc.constantFrom(2 as const, 3 as const),
      iface: fc.constantFrom<Instance['interface']>('eth0', 'eth1', { lb1: 'eth0', lb2: 'eth1' }),
      prio: fc.uniqueArray(fc.integer({ min: 1, max: 254 }), { minLength: 2, maxLength: 2 }),
      state: opt(fc.constantFrom<Instance['state']>({ lb1: 'MASTER', lb2: 'BACKUP' }, 'BACKUP')),
      advert: dur('1s', '2s', '3s'),
      preempt: opt(fc.boolean()),
      preemptDelay: opt(dur('5s', '30s')),
      auth: fc.boolean(),
      unicast: fc.boolean(),
      trackIf: opt(
        fc.record({ name: fc.constantFrom('eth2', 'bond0'), weight: opt(fc.integer({ min: -50, max: 50 })) }),
      ),
      notify: opt(dur('/etc/keepgit/notify.sh master', '/usr/local/bin/to-master')),
      repeat: opt(fc.integer({ min: 1, max: 10 })),
      nVips: fc.integer({ min: 1, max: 3 }),
      seed: fc.integer({ min: 0, max: 1000 }),
    })
    .chain((r) =>
      fc
        .uniqueArray(vipArb(r.family, k), {
          minLength: r.nVips,
          maxLength: r.nVips,
          selector: (v) => (typeof v === 'string' ? v : v.address).split('/')[0],
        })
        .map((vips) => {
          const name = `vi${k}`;
          const v6 = r.family === 6;
          return strip<Instance>({
            name,
            vrid: k + 1,
            interface: r.iface,
            priority: { lb1: r.prio[0] ?? 1, lb2: r.prio[1] ?? 2 },
            state: r.state,
            version: v6 ? 3 : r.version,
            advertInterval: r.advert,
            preempt: r.preempt,
            preemptDelay: r.preemptDelay,
            vips,
            auth:
              r.auth && !v6 && r.version === 2
                ? { type: 'PASS', secretRef: { env: `VRRP_PASS_${k}` } }
                : undefined,
            unicast: r.unicast ? {} : undefined,
            track: r.trackIf ? { interfaces: [strip(r.trackIf)] } : undefined,
            notify: r.notify ? { master: r.notify } : undefined,
            garp: r.repeat ? { masterRepeat: r.repeat } : undefined,
          });
        }),
    );

const checkArb: fc.Arbitrary<Check> = fc.oneof(
  fc
    .record({
      type: fc.constant('tcp' as const),
      connectTimeout: opt(dur('1s', '3s')),
      retry: opt(fc.integer({ min: 0, max: 5 })),
    })
    .map(strip),
  fc
    .record({
      type: fc.constantFrom('http' as const, 'https' as const),
      path: fc.constantFrom('/', '/healthz', '/status/ok'),
      statusCode: opt(fc.constantFrom(200, 204)),
      digest: opt(fc.constantFrom('640205b7b0fc66c1ea91c463fac6334d', 'ff20ad2481f97b1754ef3e12ecd3a9cc')),
      delayBeforeRetry: opt(dur('1s', '2s')),
    })
    .map(({ type, path, statusCode, digest, delayBeforeRetry }) =>
      strip({ type, urls: [strip({ path, statusCode, digest })], delayBeforeRetry }),
    ),
  fc
    .record({
      script: dur('/usr/local/bin/check-db', '/bin/true'),
      dynamic: opt(fc.boolean()),
      timeout: opt(dur('2s', '5s')),
    })
    .map((r) => strip({ type: 'misc' as const, ...r })),
);

const realServerArb = (j: number): fc.Arbitrary<RealServer> =>
  fc
    .record({
      weight: opt(fc.integer({ min: 0, max: 100 })),
      port: opt(fc.constantFrom(8080, 8443)),
      inhibit: opt(fc.boolean()),
      checks: fc.array(checkArb, { maxLength: 2 }),
    })
    .map((r) =>
      strip({
        address: `198.51.100.${j + 10}`,
        port: r.port,
        weight: r.weight,
        inhibitOnFailure: r.inhibit,
        checks: r.checks.length ? r.checks : undefined,
      }),
    );

const virtualServerArb = (k: number): fc.Arbitrary<VirtualServer> =>
  fc
    .record({
      port: fc.constantFrom(80, 443, 53),
      protocol: opt(fc.constantFrom('TCP' as const, 'UDP' as const)),
      scheduler: opt(
        fc.constantFrom('rr' as const, 'wrr' as const, 'sh' as const, 'lc' as const, 'mh' as const),
      ),
      forwarding: opt(fc.constantFrom('nat' as const, 'dr' as const, 'tun' as const)),
      persistence: opt(dur('50s', '3h', '300s')),
      delayLoop: opt(dur('5s', '10s')),
      sorry: fc.boolean(),
      nRs: fc.integer({ min: 1, max: 3 }),
    })
    .chain((r) =>
      fc.tuple(...Array.from({ length: r.nRs }, (_, j) => realServerArb(j))).map((realServers) =>
        strip<VirtualServer>({
          address: `203.0.113.${k + 10}`,
          port: r.port,
          protocol: r.protocol,
          scheduler: r.scheduler,
          forwarding: r.forwarding,
          persistence: r.persistence,
          delayLoop: r.delayLoop,
          sorryServer: r.sorry ? { address: '198.51.100.200', port: r.port } : undefined,
          realServers,
        }),
      ),
    );

const modelArb = fc
  .record({
    nInst: fc.integer({ min: 1, max: 3 }),
    nVs: fc.integer({ min: 0, max: 2 }),
    routerIds: fc.boolean(),
  })
  .chain(({ nInst, nVs, routerIds }) =>
    fc
      .tuple(
        fc.tuple(...Array.from({ length: nInst }, (_, k) => instanceArb(k))),
        nVs === 0
          ? fc.constant([] as VirtualServer[])
          : fc.tuple(...Array.from({ length: nVs }, (_, k) => virtualServerArb(k))),
      )
      .map(([instances, virtualServers]) => {
        const cluster: ClusterDoc = strip({
          apiVersion: 'keepgit/v1',
          kind: 'Cluster',
          metadata: { name: 'prop' },
          instances,
          virtualServers: virtualServers.length ? virtualServers : undefined,
        });
        const nodes: NodeDoc[] = ['lb1', 'lb2'].map((n, i) =>
          strip<NodeDoc>({
            apiVersion: 'keepgit/v1',
            kind: 'Node',
            metadata: { name: n },
            routerId: routerIds ? `LVS_${n.toUpperCase()}` : undefined,
            interfaces: {
              eth0: { unicastSource: `192.0.2.${11 + i}` },
              eth1: { unicastSource: `192.0.3.${11 + i}` },
            },
          }),
        );
        return { cluster, nodes };
      }),
  );

describe('export → import property', () => {
  it('any model keepalived.conf can express comes back as the same per-node views', () => {
    fc.assert(
      fc.property(modelArb, (m) => {
        const texts = exportAll(m);
        const back = importTexts(texts);
        assert.deepEqual(back.unsupported, [], Object.values(texts).join('\n'));
        assertSameViews(m, back);
        // And once more: the importer's own output is a fixed point.
        assertSameViews(back, importTexts(exportAll(back)));
      }),
      { numRuns: 150 },
    );
  });
});
