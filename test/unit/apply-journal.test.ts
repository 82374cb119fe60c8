import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ViewInstance } from '../../src/model/node-view.ts';
import {
  type ApplyJournal,
  fileApplyJournal,
  type JournalEntry,
  parseJournal,
} from '../../src/reconcile/apply-journal.ts';
import { journalAddresses } from '../../src/reconcile/journal-addresses.ts';
import { memoryApplyJournal } from '../../src/reconcile/memory-apply-journal.ts';

// The apply journal: the file and the in-memory one pass the same contract (none, written,
// read back, cleared, cleared again); the file one moves a corrupt journal aside; and the
// addresses an apply names are the union of the old and new VIPs with their interfaces.

const entry: JournalEntry = {
  node: 'lb1',
  revision: 'r2',
  running: 'r1',
  at: '2025-11-22T08:00:00.000Z',
  addresses: [
    { address: '192.0.2.100/24', dev: 'eth0' },
    { address: '2001:db8::100/64', dev: 'eth1' },
  ],
};

function contract(name: string, make: () => { journal: ApplyJournal; done: () => void }) {
  describe(`apply journal contract: ${name}`, () => {
    it('none, written, read back, replaced, cleared (twice)', async () => {
      const { journal, done } = make();
      try {
        assert.deepEqual(await journal.read(), { ok: true, entry: undefined });
        assert.deepEqual(await journal.write(entry), { ok: true });
        assert.deepEqual(await journal.read(), { ok: true, entry });
        const next = { ...entry, revision: 'r3', addresses: [] };
        assert.deepEqual(await journal.write(next), { ok: true });
        assert.deepEqual(await journal.read(), { ok: true, entry: next });
        assert.deepEqual(await journal.clear(), { ok: true });
        assert.deepEqual(await journal.read(), { ok: true, entry: undefined });
        assert.deepEqual(await journal.clear(), { ok: true });
      } finally {
        done();
      }
    });
  });
}

contract('memory', () => ({ journal: memoryApplyJournal(), done: () => {} }));
contract('file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keepgit-journal-test-'));
  return {
    journal: fileApplyJournal(join(dir, 'state')),
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('file apply journal', () => {
  it('is apply-journal.json in the state directory, nothing else left behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-journal-test-'));
    try {
      const journal = fileApplyJournal(dir);
      await journal.write(entry);
      assert.deepEqual(readdirSync(dir), ['apply-journal.json']);
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'apply-journal.json'), 'utf8')), entry);
      await journal.clear();
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a corrupt journal is moved aside and reported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-journal-test-'));
    try {
      writeFileSync(join(dir, 'apply-journal.json'), '{"node": "lb1", "addr');
      const journal = fileApplyJournal(dir, { now: () => Date.parse('2025-11-22T08:00:00.000Z') });
      const r = await journal.read();
      assert.equal(r.ok, false);
      assert.match(
        r.ok ? '' : r.message,
        /is not a keepgit apply journal: moved to .*corrupt-2025-11-22T08-00-00-000Z/,
      );
      assert.deepEqual(readdirSync(dir), ['apply-journal.json.corrupt-2025-11-22T08-00-00-000Z']);
      assert.deepEqual(await journal.read(), { ok: true, entry: undefined });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parseJournal wants every field', () => {
    assert.deepEqual(parseJournal(JSON.stringify(entry)), entry);
    assert.equal(parseJournal(JSON.stringify({ ...entry, node: 1 })), undefined);
    assert.equal(parseJournal(JSON.stringify({ ...entry, addresses: [{ address: 'x' }] })), undefined);
    assert.equal(parseJournal('42'), undefined);
  });
});

describe('journalAddresses', () => {
  const inst = (name: string, iface: string, vips: string[], excluded: ViewInstance['excludedVips'] = []) =>
    ({
      name,
      interface: iface,
      vips: vips.map((a) => ({ address: a, family: a.includes(':') ? 6 : 4 })),
      excludedVips: excluded,
    }) as unknown as ViewInstance;

  it('names old and new VIPs (excluded ones too) once each, with their interface', () => {
    const before = [
      inst('a', 'eth0', ['192.0.2.100/24', '192.0.2.101/24']),
      inst('gone', 'eth1', ['198.51.100.5/32']),
    ];
    const after = [
      inst(
        'a',
        'eth0',
        ['192.0.2.101/24', '192.0.2.102/24'],
        [{ address: '2001:db8::100/64', family: 6, dev: 'eth2' }],
      ),
    ];
    assert.deepEqual(journalAddresses(before, after), [
      { address: '192.0.2.100/24', dev: 'eth0' },
      { address: '192.0.2.101/24', dev: 'eth0' },
      { address: '198.51.100.5/32', dev: 'eth1' },
      { address: '192.0.2.102/24', dev: 'eth0' },
      { address: '2001:db8::100/64', dev: 'eth2' },
    ]);
  });
});
