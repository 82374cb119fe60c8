import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffServices } from '../../src/drivers/dataplane/content-diff.ts';
import type { Service } from '../../src/drivers/dataplane/dataplane.ts';
import { summariseNftErrors } from '../../src/drivers/dataplane/nft-errors.ts';
import { className, parseClassName } from '../../src/drivers/dataplane/nft-names.ts';
import { parseNftTable } from '../../src/drivers/dataplane/nft-parse.ts';
import { persistDeletes, staleTargets } from '../../src/drivers/dataplane/nft-persist.ts';
import {
  granularityPrefix,
  prefixToNetmask,
  prepareForNftables,
} from '../../src/drivers/dataplane/nft-refusals.ts';
import {
  renderFullTable,
  renderPatch,
  scriptLines,
  scriptText,
} from '../../src/drivers/dataplane/nft-render.ts';
import { sampleContent } from './dataplane-contract.ts';

// The pure half of the nftables dataplane: scripts from content, content from the
// kernel's JSON, the names that carry the metadata, what is refused, and nft's errors
// summarised. The lab tests (test/lab/dataplane-nft*.test.ts) run the same code for real.

const prepared = (services: Service[]): Service[] => {
  const p = prepareForNftables({ services });
  assert.ok(p.ok, p.ok ? '' : JSON.stringify(p.refusals));
  return p.services;
};

const rr = (addresses: string[]): Service => ({
  key: 'www-80',
  family: 4,
  protocol: 'TCP',
  address: '203.0.113.10',
  port: 80,
  scheduler: 'rr',
  destinations: addresses.map((address) => ({ address, port: 8080, weight: 1, forwarding: 'nat' })),
});

describe('nftables scripts', () => {
  it('a full apply replaces the table in one file: create, delete, create', () => {
    const text = scriptText(renderFullTable('keepgit_lb', prepared(sampleContent().services), 7));
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 3), [
      'table inet keepgit_lb {}',
      'delete table inet keepgit_lb',
      'table inet keepgit_lb {',
    ]);
    assert.match(text, /set gen \{ type mark; elements = \{ 7 \}; \}/);
    assert.match(text, /203\.0\.113\.10 \. tcp \. 80 comment "www-80" : goto c4_rr_m3,?\n/);
    assert.match(
      text,
      /chain c4_wrr_m5_p300000_24 \{\n {4}dnat ip to ip saddr & 255\.255\.255\.0 \. ip daddr \. tcp dport map @persist4_tcp/,
    );
    assert.match(text, /jhash ip saddr mod 3 seed 0x6b677368 map @slots4_udp/);
    assert.match(text, /chain c6_sh_m0 \{\n {2}\}/, 'no real server: an empty chain, no DNAT');
    // Nothing outside keepgit's table.
    for (const line of lines) assert.doesNotMatch(line, /^(table|delete table) (?!inet keepgit_lb)/);
  });

  it('every element line names its service, for error messages', () => {
    const script = renderFullTable('keepgit_lb', prepared(sampleContent().services), 7);
    const lines = scriptLines(script);
    assert.equal(script.owners.length, lines.length, 'one owner entry per line');
    const i = lines.findIndex((l) => l.includes('203.0.113.11 . 9000 . '));
    assert.equal(script.owners[i], 'sctp-dh');
    for (const [n, line] of lines.entries())
      if (/ : .* \. \d+,$/.test(line)) assert.ok(script.owners[n], `element line ${n + 1} has its service`);
  });

  it('a one-server change is one element out and one in, besides the generation mark', () => {
    const before = prepared([rr(['198.51.100.11', '198.51.100.12', '198.51.100.13'])]);
    const after = prepared([rr(['198.51.100.11', '198.51.100.12', '198.51.100.14'])]);
    const diff = diffServices(before, after);
    const patch = renderPatch({
      table: 'keepgit_lb',
      before,
      after,
      touched: diff.changed,
      oldGen: 1,
      newGen: 2,
    });
    assert.deepEqual(scriptLines(patch), [
      'delete element inet keepgit_lb gen { 1 }',
      'add element inet keepgit_lb gen { 2 }',
      'delete element inet keepgit_lb slots4_tcp { 203.0.113.10 . 80 . 2 }',
      'add element inet keepgit_lb slots4_tcp { 203.0.113.10 . 80 . 2 : 198.51.100.14 . 8080 }',
    ]);
  });

  it('a new slot count creates its chain, and a chain no longer used goes last', () => {
    const before = prepared([rr(['198.51.100.11', '198.51.100.12', '198.51.100.13'])]);
    const after = prepared([rr(['198.51.100.11', '198.51.100.12'])]);
    const patch = renderPatch({
      table: 'keepgit_lb',
      before,
      after,
      touched: diffServices(before, after).changed,
      oldGen: 1,
      newGen: 2,
    });
    assert.equal(scriptLines(patch)[2], 'add chain inet keepgit_lb c4_rr_m2');
    assert.match(
      scriptLines(patch)[3] ?? '',
      /^add rule inet keepgit_lb c4_rr_m2 dnat ip to ip daddr \. tcp dport \. numgen inc mod 2/,
    );
    assert.ok(
      scriptLines(patch).includes('delete element inet keepgit_lb slots4_tcp { 203.0.113.10 . 80 . 2 }'),
    );
    assert.ok(
      scriptLines(patch).includes(
        'add element inet keepgit_lb svc4 { 203.0.113.10 . tcp . 80 comment "www-80" : goto c4_rr_m2 }',
      ),
    );
    assert.equal(scriptLines(patch).at(-1), 'delete chain inet keepgit_lb c4_rr_m3');
  });

  it('class chain names carry family, scheduler, slots and persistence, and read back', () => {
    const c = {
      family: 4 as const,
      scheduler: 'wrr',
      modulus: 6,
      persistence: { timeoutMs: 2000, prefix: 24 },
    };
    assert.equal(className(c), 'c4_wrr_m6_p2000_24');
    assert.deepEqual(parseClassName('c4_wrr_m6_p2000_24'), c);
    assert.deepEqual(parseClassName('c6_rr_m0'), { family: 6, scheduler: 'rr', modulus: 0 });
    assert.equal(parseClassName('prerouting'), undefined);
  });
});

// What nft 1.0.6 printed for a small table (trimmed to the parts read() uses).
const LISTING = {
  nftables: [
    { metainfo: { version: '1.0.6', json_schema_version: 1 } },
    { table: { family: 'inet', name: 'keepgit_lb', handle: 1 } },
    { set: { family: 'inet', name: 'gen', table: 'keepgit_lb', type: 'mark', elem: [12345] } },
    {
      map: {
        name: 'svc4',
        map: 'verdict',
        elem: [
          [
            { elem: { val: { concat: ['203.0.113.10', 'udp', 53] }, comment: 'dns' } },
            { goto: { target: 'c4_sh_m3' } },
          ],
          [
            { elem: { val: { concat: ['203.0.113.10', 'tcp', 80] }, comment: 'www-80' } },
            { goto: { target: 'c4_wrr_m5_p2000_24' } },
          ],
        ],
      },
    },
    { map: { name: 'snat4', elem: [[{ concat: ['203.0.113.10', 'udp', 53] }, '192.0.2.1']] } },
    { set: { name: 'masq4', elem: [{ concat: ['203.0.113.10', 'tcp', 80] }] } },
    {
      map: {
        name: 'slots4_tcp',
        elem: [0, 1, 2, 3, 4].map((slot) => [
          { concat: ['203.0.113.10', 80, slot] },
          { concat: [slot % 2 === 0 ? '198.51.100.1' : '198.51.100.2', 8080] },
        ]),
      },
    },
    {
      map: {
        name: 'slots4_udp',
        elem: [
          [
            { elem: { val: { concat: ['203.0.113.10', 53, 0] }, comment: 'w=4' } },
            { concat: ['198.51.100.2', 53] },
          ],
          [
            { elem: { val: { concat: ['203.0.113.10', 53, 1] }, comment: 'w=2' } },
            { concat: ['198.51.100.1', 53] },
          ],
          [{ concat: ['203.0.113.10', 53, 2] }, { concat: ['198.51.100.2', 53] }],
          [{ concat: ['203.0.113.10', 53, 3] }, { concat: ['198.51.100.9', 53] }],
        ],
      },
    },
    {
      map: {
        name: 'persist4_tcp',
        elem: [
          [
            { elem: { val: { concat: ['192.0.2.0', '203.0.113.10', 80] }, timeout: 2, expires: 1 } },
            { concat: ['198.51.100.1', 8080] },
          ],
        ],
      },
    },
  ],
};

describe('reading the kernel listing', () => {
  it('rebuilds services from comments, chain names and slots', () => {
    const parsed = parseNftTable(LISTING);
    assert.equal(parsed.gen, 12345);
    assert.equal(parsed.clean, true);
    const [www, dns] = parsed.content.services;
    assert.deepEqual(www, {
      key: 'www-80',
      family: 4,
      protocol: 'TCP',
      address: '203.0.113.10',
      port: 80,
      scheduler: 'wrr',
      persistence: { timeoutMs: 2000, granularity: '255.255.255.0' },
      sourceNat: 'masquerade',
      destinations: [
        { address: '198.51.100.1', port: 8080, weight: 3, forwarding: 'nat' },
        { address: '198.51.100.2', port: 8080, weight: 2, forwarding: 'nat' },
      ],
    });
    assert.deepEqual(dns?.sourceNat, { address: '192.0.2.1' });
    assert.deepEqual(
      dns?.destinations.map((d) => [d.address, d.weight]),
      [
        ['198.51.100.1', 2],
        ['198.51.100.2', 4],
        ['198.51.100.9', 0],
      ],
    );
  });

  it('something keepgit would not have written makes the listing "not clean"', () => {
    const orphan = structuredClone(LISTING);
    orphan.nftables.push({
      map: {
        name: 'slots6_tcp',
        elem: [[{ concat: ['2001:db8::10', 80, 0] }, { concat: ['2001:db8::1', 80] }]],
      },
    } as never);
    assert.equal(parseNftTable(orphan).clean, false);
    const noKey = JSON.parse(JSON.stringify(LISTING).replace('"comment":"dns"', '"x":1'));
    assert.equal(parseNftTable(noKey).clean, false);
    assert.deepEqual(parseNftTable({}).content, { services: [] });
  });

  it('finds the persistent clients of a real server that goes away', () => {
    const before = prepared([
      { ...rr(['198.51.100.1', '198.51.100.2']), persistence: { timeoutMs: 2000 } },
    ]).map((s) => ({ ...s, destinations: s.destinations.map((d) => ({ ...d, port: 8080 })) }));
    const after = before.map((s) => ({ ...s, destinations: s.destinations.slice(1) }));
    const targets = staleTargets(diffServices(before, after));
    assert.deepEqual([...(targets.get('TCP') ?? [])], ['203.0.113.10|80|198.51.100.1|8080']);
    assert.deepEqual(persistDeletes(LISTING, 'TCP', targets.get('TCP') ?? new Set()), [
      { map: 'persist4_tcp', key: '192.0.2.0 . 203.0.113.10 . 80' },
    ]);
  });
});

describe('what nftables refuses, and nft errors', () => {
  it('granularity: a netmask or a prefix length; read back as a netmask', () => {
    assert.equal(granularityPrefix('255.255.255.0'), 24);
    assert.equal(granularityPrefix('24'), 24);
    assert.equal(granularityPrefix('/16'), 16);
    assert.equal(granularityPrefix(undefined), 32);
    assert.equal(granularityPrefix('255.0.255.0'), undefined);
    assert.equal(granularityPrefix('0.0.0.0'), undefined);
    assert.equal(granularityPrefix('33'), undefined);
    assert.equal(prefixToNetmask(24), '255.255.255.0');
    assert.equal(prefixToNetmask(1), '128.0.0.0');
    const p = prepareForNftables({
      services: [{ ...rr(['198.51.100.1']), persistence: { timeoutMs: 5, granularity: '/32' } }],
    });
    assert.ok(p.ok);
    assert.deepEqual(p.services[0]?.persistence, { timeoutMs: 5 });
  });

  it('keys that cannot be an element comment, and a bad granularity, are refused by field', () => {
    const p = prepareForNftables({
      services: [
        { ...rr(['198.51.100.1']), key: 'has "quotes"' },
        { ...rr(['198.51.100.1']), port: 81, key: 'k'.repeat(129) },
        {
          ...rr(['198.51.100.1']),
          port: 82,
          key: 'g',
          persistence: { timeoutMs: 5, granularity: '255.0.255.0' },
        },
        { ...rr([]), port: 0, key: 'zero' },
      ],
    });
    assert.ok(!p.ok);
    assert.deepEqual(
      p.refusals.map((r) => [r.service.slice(0, 12), r.field]),
      [
        ['has "quotes"', 'key'],
        ['kkkkkkkkkkkk', 'key'],
        ['g', 'persistence.granularity'],
        ['zero', 'port'],
      ],
    );
  });

  it('summarises nft stderr: the first errors, with the service of the line', () => {
    const script = {
      lines: ['a', 'b', 'c', 'd', 'e', 'f'],
      owners: [undefined, undefined, undefined, undefined, undefined, 'www-80'],
    };
    const stderr =
      '/tmp/keepgit-nft-x/batch-1.nft:6:7-15: Error: Could not process rule: File exists\n      192.0.2.1 : 192.0.2.3\n      ^^^^^^^^^\n';
    assert.deepEqual(summariseNftErrors(stderr, script), {
      message: 'Could not process rule: File exists (virtual server "www-80")',
      service: 'www-80',
    });
    assert.deepEqual(summariseNftErrors('Error: Could not process rule: Operation not supported\n'), {
      message: 'Could not process rule: Operation not supported',
    });
    assert.equal(summariseNftErrors('').message, 'nft failed without a message');
  });
});
