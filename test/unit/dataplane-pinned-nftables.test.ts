import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadRepository } from '../../src/config/load-repository.ts';
import { NFTABLES_SCHEDULERS, nftablesUnsupported } from '../../src/model/dataplane-support.ts';

// A repository that pins the nftables dataplane cannot ask for what only IPVS does: the
// loader says so at review time, at the field, with what to use instead.

const cluster = (top: string, vs: string) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lb }
${top}virtualServers:
  - name: www
    address: 203.0.113.10
    port: 80
${vs}    realServers:
      - { address: 198.51.100.11, port: 80 }
      - { address: 198.51.100.12, port: 80, forwarding: tun }
`;
const node = (name: string, extra = '') =>
  `apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: ${name} }\n${extra}`;

function load(text: string, lb2 = '') {
  return loadRepository(
    new Map([
      ['keepgit.yaml', text],
      ['nodes/lb1.yaml', node('lb1')],
      ['nodes/lb2.yaml', node('lb2', lb2)],
    ]),
  );
}
const lines = (r: ReturnType<typeof load>) =>
  r.diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.file}:${d.line}: ${d.path}: ${d.message}`);

describe('dataplane nftables pinned', () => {
  it('refuses IPVS-only schedulers and forwarding methods at their fields', () => {
    const r = load(cluster('dataplane: nftables\n', '    scheduler: lc\n'));
    assert.deepEqual(lines(r), [
      'keepgit.yaml:9: virtualServers.www.scheduler: scheduler lc needs IPVS; with dataplane nftables use one of rr, wrr, sh, dh, random (dataplane nftables on lb1, lb2)',
      'keepgit.yaml:12: virtualServers.www.realServers[198.51.100.12:80].forwarding: forwarding tun (lb_kind TUN) needs IPVS; with dataplane nftables use forwarding nat (dataplane nftables on lb1, lb2)',
    ]);
  });

  it("points at the virtual server when keepalived's default wlc is what IPVS would need", () => {
    const r = load(cluster('dataplane: nftables\n', '    forwarding: nat\n'));
    const first = lines(r)[0] ?? '';
    assert.match(
      first,
      /^keepgit\.yaml:6: virtualServers\.www\.scheduler: no scheduler given, and keepalived's default wlc needs IPVS/,
    );
  });

  it('judges only the nodes that pin nftables; auto is left to the agent', () => {
    const auto = load(cluster('', '    scheduler: wlc\n'));
    assert.deepEqual(lines(auto), []);
    const one = load(cluster('', '    scheduler: wlc\n'), 'dataplane: nftables\n');
    assert.equal(lines(one).length, 2);
    assert.match(lines(one)[0] ?? '', /\(dataplane nftables on lb2\)$/);
  });

  it('refuses on a node pinned to IPVS what only nftables does (random, sourceNat)', () => {
    const r = load(cluster('dataplane: ipvs\n', '    scheduler: random\n    sourceNat: masquerade\n'));
    assert.deepEqual(
      lines(r).map((l) => l.replace(/ needs IPVS.*| is .*| \(dataplane.*/, '')),
      [
        'keepgit.yaml:9: virtualServers.www.scheduler: scheduler random',
        'keepgit.yaml:10: virtualServers.www.sourceNat: sourceNat',
      ],
    );
    assert.match(lines(r)[1] ?? '', /nftables dataplane only.*\(dataplane ipvs on lb1, lb2\)$/);
    // tun is fine on IPVS.
    assert.equal(lines(r).length, 2, lines(r).join('\n'));
  });

  it('accepts what nftables does', () => {
    for (const s of NFTABLES_SCHEDULERS)
      assert.deepEqual(nftablesUnsupported({ address: '203.0.113.10', port: 80, scheduler: s }), [], s);
    assert.deepEqual(
      nftablesUnsupported({ fwmark: 7, scheduler: 'rr' }).map((u) => u.path),
      [['fwmark']],
    );
  });
});
