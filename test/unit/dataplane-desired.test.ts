import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service } from '../../src/drivers/dataplane/dataplane.ts';
import { nodeView } from '../../src/model/node-view.ts';
import {
  desiredDataplane,
  type Facts,
  factKey,
  type RealServerFact,
} from '../../src/plan/dataplane-desired.ts';
import { repositoryOf } from './agent-fakes.ts';

// From virtual servers and check facts to the dataplane's content: keepalived's rules for
// down servers, inhibit_on_failure, misc_dynamic, quorum with hysteresis, the sorry server,
// draining, and virtual server groups.

const cluster = `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lb }
virtualServerGroups:
  - name: front
    members:
      - { address: 203.0.113.20, port: 443, range: 2 }
      - { address: 2001:db8::20 }
virtualServers:
  - name: www
    address: 203.0.113.10
    port: 80
    scheduler: wrr
    sourceNat: masquerade
    persistence: 30s
    sorryServer: { address: 198.51.100.99 }
    quorum: { value: 3, hysteresis: 1 }
    realServers:
      - { address: 198.51.100.11, weight: 2, checks: [{ type: tcp }] }
      - { address: 198.51.100.12, weight: 1, inhibitOnFailure: true, checks: [{ type: tcp }] }
      - { address: 198.51.100.13, weight: 1, checks: [{ type: misc, script: /bin/true, dynamic: true }] }
  - name: dns
    address: 203.0.113.53
    port: 53
    protocol: UDP
    scheduler: rr
    realServers:
      - { address: 198.51.100.21 }
      - { address: 198.51.100.22, checks: [{ type: udp, alpha: true }] }
  - name: grouped
    group: front
    port: 8443
    scheduler: sh
    realServers:
      - { address: 198.51.100.31 }
`;

function view() {
  const repository = repositoryOf(cluster);
  return nodeView(
    repository.cluster.doc,
    repository.nodes.map((n) => n.doc),
    'lb1',
  );
}

const facts = (entries: Record<string, RealServerFact>): Facts =>
  new Map(Object.entries(entries).map(([k, v]) => [factKey(...(k.split('|') as [string, string])), v]));
const dests = (s: Service | undefined) => s?.destinations.map((d) => `${d.address}:${d.port}=${d.weight}`);
const svc = (services: Service[], key: string) => services.find((s) => s.key === key);

describe('desiredDataplane', () => {
  const v = view();

  it('puts every live server in with its weight, and follows checks, inhibit and misc_dynamic', () => {
    const all = desiredDataplane({ view: v, facts: new Map() });
    const www = svc(all.content.services, 'www');
    assert.deepEqual(www && { ...www, destinations: dests(www) }, {
      key: 'www',
      family: 4,
      protocol: 'TCP',
      address: '203.0.113.10',
      port: 80,
      scheduler: 'wrr',
      sourceNat: 'masquerade',
      persistence: { timeoutMs: 30_000 },
      destinations: ['198.51.100.11:80=2', '198.51.100.12:80=1', '198.51.100.13:80=1'],
    });
    // alpha: the UDP-checked server starts down until its first success; the unchecked one is up.
    assert.deepEqual(dests(svc(all.content.services, 'dns')), ['198.51.100.21:53=1']);

    const f = facts({
      'www|198.51.100.11:80': { up: true },
      'www|198.51.100.12:80': { up: false },
      'www|198.51.100.13:80': { up: true, weight: 5 },
      'dns|198.51.100.22:53': { up: true },
    });
    const now = desiredDataplane({ view: v, facts: f });
    assert.deepEqual(dests(svc(now.content.services, 'www')), [
      '198.51.100.11:80=2',
      '198.51.100.12:80=0',
      '198.51.100.13:80=5',
    ]);
    assert.deepEqual(dests(svc(now.content.services, 'dns')), ['198.51.100.21:53=1', '198.51.100.22:53=1']);
  });

  it('a flapping check changes its own service only', () => {
    const a = desiredDataplane({ view: v, facts: facts({ 'dns|198.51.100.22:53': { up: true } }) });
    const b = desiredDataplane({ view: v, facts: facts({ 'dns|198.51.100.22:53': { up: false } }) });
    const changed = a.content.services
      .filter((s) => JSON.stringify(s) !== JSON.stringify(svc(b.content.services, s.key)))
      .map((s) => s.key);
    assert.deepEqual(changed, ['dns']);
  });

  it('hands the service to the sorry server below quorum, with hysteresis both ways', () => {
    const down = facts({ 'www|198.51.100.11:80': { up: false }, 'www|198.51.100.12:80': { up: false } });
    // Alive weight 1 < quorum 3: the sorry server alone; others stay at weight 0.
    const lost = desiredDataplane({ view: v, facts: down });
    const www = lost.virtualServers.find((s) => s.key === 'www');
    assert.deepEqual(www, { key: 'www', up: false, sorryActive: true, aliveWeight: 1 });
    assert.deepEqual(dests(svc(lost.content.services, 'www')), [
      '198.51.100.12:80=0',
      '198.51.100.13:80=0',
      '198.51.100.99:80=1',
    ]);
    // Weight 3 after being down: not yet above quorum + hysteresis (4).
    const three = facts({ 'www|198.51.100.11:80': { up: true }, 'www|198.51.100.12:80': { up: false } });
    const stillDown = desiredDataplane({ view: v, facts: three, previous: new Map([['www', false]]) });
    assert.equal(stillDown.virtualServers.find((s) => s.key === 'www')?.up, false);
    // The same weight while up: not below quorum - hysteresis (2): stays up, no sorry server.
    const stillUp = desiredDataplane({ view: v, facts: three, previous: new Map([['www', true]]) });
    assert.equal(stillUp.virtualServers.find((s) => s.key === 'www')?.sorryActive, false);
    assert.deepEqual(dests(svc(stillUp.content.services, 'www')), [
      '198.51.100.11:80=2',
      '198.51.100.12:80=0',
      '198.51.100.13:80=1',
    ]);
  });

  it('keeps a removed server at weight 0 while it drains, unless it is back in the repository', () => {
    const draining = [
      {
        vsKey: 'dns',
        destination: { address: '198.51.100.29', port: 53, weight: 1, forwarding: 'nat' as const },
      },
      {
        vsKey: 'dns',
        destination: { address: '198.51.100.21', port: 53, weight: 1, forwarding: 'nat' as const },
      },
    ];
    const d = desiredDataplane({ view: v, facts: new Map(), draining });
    assert.deepEqual(dests(svc(d.content.services, 'dns')), ['198.51.100.21:53=1', '198.51.100.29:53=0']);
  });

  it('expands a virtual server group into one service per member address', () => {
    const d = desiredDataplane({ view: v, facts: new Map() });
    const grouped = d.content.services.filter((s) => s.key.startsWith('grouped@'));
    assert.deepEqual(
      grouped.map((s) => [s.key, s.family, s.address, s.port, s.scheduler, dests(s)?.join()]),
      [
        ['grouped@203.0.113.20:443', 4, '203.0.113.20', 443, 'sh', '198.51.100.31:8443=1'],
        ['grouped@203.0.113.21:443', 4, '203.0.113.21', 443, 'sh', '198.51.100.31:8443=1'],
        ['grouped@203.0.113.22:443', 4, '203.0.113.22', 443, 'sh', '198.51.100.31:8443=1'],
        ['grouped@[2001:db8::20]:8443', 6, '2001:db8::20', 8443, 'sh', '198.51.100.31:8443=1'],
      ],
    );
  });
});
