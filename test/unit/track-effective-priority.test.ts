import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyReport,
  effectivePriority,
  evaluateTracking,
  faulted,
  fileStatus,
  parseTrackFileValue,
  type TrackState,
  type TrackWeight,
  trackKey,
} from '../../src/track/effective-priority.ts';
import { trackWeights } from '../../src/track/track-weights.ts';

const states = (...s: TrackState[]) => new Map(s.map((x) => [trackKey(x.kind, x.name), x]));
const script = (name: string, ok: boolean): TrackState => ({ kind: 'script', name, ok });
const file = (name: string, value: number): TrackState => ({ kind: 'file', name, value });
const w = (kind: TrackWeight['kind'], name: string, weight: number, reverse = false): TrackWeight => ({
  kind,
  name,
  weight,
  reverse,
});

describe('effectivePriority: up/down trackers (keepalived vrrp_track.c)', () => {
  // [weight, reverse, ok, expected delta]
  const table: [number, boolean, boolean, number][] = [
    [10, false, true, 10],
    [10, false, false, 0],
    [-10, false, true, 0],
    [-10, false, false, -10],
    [10, true, true, -10],
    [10, true, false, 0],
    [-10, true, true, 0],
    [-10, true, false, 10],
  ];
  for (const kind of ['interface', 'script', 'process'] as const)
    for (const [weight, reverse, ok, delta] of table)
      it(`${kind} weight ${weight}${reverse ? ' reverse' : ''} ${ok ? 'up' : 'down'} → ${delta}`, () => {
        const s = new Map([[trackKey(kind, 'x'), { kind, name: 'x', ok }]]);
        const e = evaluateTracking(100, s, [w(kind, 'x', weight, reverse)]);
        assert.equal(e.priority, 100 + delta);
        assert.deepEqual(e.faults, []);
      });

  it('weight 0: down is FAULT, up is not; reverse turns it round', () => {
    assert.equal(faulted(states(script('a', false)), [w('script', 'a', 0)]).length, 1);
    assert.equal(faulted(states(script('a', true)), [w('script', 'a', 0)]).length, 0);
    assert.equal(faulted(states(script('a', true)), [w('script', 'a', 0, true)]).length, 1);
    assert.equal(faulted(states(script('a', false)), [w('script', 'a', 0, true)]).length, 0);
    // FAULT does not move the priority.
    assert.equal(effectivePriority(100, states(script('a', false)), [w('script', 'a', 0)]), 100);
  });

  it('sums several trackers and clamps to 1..254', () => {
    const s = states(script('a', true), script('b', true), { kind: 'interface', name: 'eth1', ok: false });
    const ws = [w('script', 'a', 50), w('script', 'b', 50), w('interface', 'eth1', -30)];
    assert.equal(effectivePriority(100, s, ws), 170);
    assert.equal(effectivePriority(200, s, ws), 254);
    assert.equal(effectivePriority(10, states(script('a', false)), [w('script', 'a', -100)]), 1);
  });

  it('255 (address owner) never changes, but weight-0 faults still apply', () => {
    const s = states(script('a', false), script('b', true));
    const e = evaluateTracking(255, s, [w('script', 'a', 0), w('script', 'b', 50)]);
    assert.equal(e.priority, 255);
    assert.equal(e.faults.length, 1);
    assert.equal(effectivePriority(255, states(script('a', false)), [w('script', 'a', -100)]), 255);
  });

  it('a tracker that has not reported adds nothing; unreported weight-0 trackers are pending', () => {
    const e = evaluateTracking(100, new Map(), [
      w('script', 'a', 0),
      w('script', 'b', 20),
      w('script', 'c', -20),
    ]);
    assert.equal(e.priority, 100);
    assert.deepEqual(e.faults, []);
    assert.deepEqual(e.pending, [{ kind: 'script', name: 'a' }]);
  });

  it('states not tracked by the instance are ignored', () => {
    assert.equal(effectivePriority(100, states(script('other', false)), [w('script', 'a', 10)]), 100);
  });

  it('applyReport replaces a tracker state without touching the old map', () => {
    const a = states(script('a', true));
    const b = applyReport(a, { kind: 'script', name: 'a', ok: false, weight: 5 });
    assert.deepEqual(b.get('script:a'), { kind: 'script', name: 'a', ok: false });
    assert.deepEqual(a.get('script:a'), { kind: 'script', name: 'a', ok: true });
    const c = applyReport(b, { kind: 'file', name: 'f', value: 3, weight: 1 });
    assert.deepEqual(c.get('file:f'), { kind: 'file', name: 'f', value: 3 });
  });
});

describe('track_file: value × weight (keepalived track_file.c)', () => {
  it('adds value × weight, reverse negates', () => {
    assert.equal(effectivePriority(100, states(file('f', 3)), [w('file', 'f', 5)]), 115);
    assert.equal(effectivePriority(100, states(file('f', 3)), [w('file', 'f', 5, true)]), 85);
    assert.equal(effectivePriority(100, states(file('f', -3)), [w('file', 'f', 5)]), 85);
    assert.equal(effectivePriority(100, states(file('f', 0)), [w('file', 'f', 5)]), 100);
  });

  it('the contribution is held to -254..253; -254 or less is FAULT', () => {
    assert.equal(fileStatus(1000, 1, false), 253);
    assert.equal(fileStatus(-253, 1, false), -253);
    assert.equal(fileStatus(-254, 1, false), -254);
    assert.equal(fileStatus(-100000, 254, false), -254);
    assert.equal(effectivePriority(1, states(file('f', 1000)), [w('file', 'f', 1)]), 254);
    assert.equal(faulted(states(file('f', -253)), [w('file', 'f', 1)]).length, 0);
    assert.equal(faulted(states(file('f', -254)), [w('file', 'f', 1)]).length, 1);
    assert.equal(faulted(states(file('f', 2)), [w('file', 'f', -200)]).length, 1);
    assert.equal(faulted(states(file('f', 2)), [w('file', 'f', 200, true)]).length, 1);
    assert.equal(effectivePriority(254, states(file('f', -253)), [w('file', 'f', 1)]), 1);
  });

  it('weight 0: non-zero is FAULT, zero is OK; reverse turns it round', () => {
    assert.equal(faulted(states(file('f', 1)), [w('file', 'f', 0)]).length, 1);
    assert.equal(faulted(states(file('f', -7)), [w('file', 'f', 0)]).length, 1);
    assert.equal(faulted(states(file('f', 0)), [w('file', 'f', 0)]).length, 0);
    assert.equal(faulted(states(file('f', 0)), [w('file', 'f', 0, true)]).length, 1);
    assert.equal(faulted(states(file('f', 5)), [w('file', 'f', 0, true)]).length, 0);
    assert.equal(effectivePriority(100, states(file('f', 5)), [w('file', 'f', 0, true)]), 100);
  });
});

describe('parseTrackFileValue: strtol(buf, NULL, 0)', () => {
  const cases: [string | undefined, number][] = [
    ['42\n', 42],
    ['  -17 trailing text', -17],
    ['+5', 5],
    ['0x1f', 31],
    ['0X1F', 31],
    ['010', 8],
    ['09', 0],
    ['0x', 0],
    ['', 0],
    [undefined, 0],
    ['abc', 0],
    ['not a number 12', 0],
    ['\t\n 7', 7],
    ['12abc', 12],
    ['3.9', 3],
    ['2147483647', 2147483647],
    ['2147483648', 2147483648],
    ['-2147483648', -2147483648],
  ];
  for (const [text, value] of cases)
    it(`${JSON.stringify(text)} → ${value}`, () => assert.deepEqual(parseTrackFileValue(text), { value }));

  it('refuses numbers outside INT32_MIN..INT32_MAX+1 (keepalived keeps the previous value)', () => {
    assert.ok('invalid' in parseTrackFileValue('2147483649'));
    assert.ok('invalid' in parseTrackFileValue('-2147483649'));
    assert.ok('invalid' in parseTrackFileValue('99999999999999999999999'));
  });

  it('reads only the first 127 bytes', () => {
    assert.deepEqual(parseTrackFileValue(`${' '.repeat(126)}9`), { value: 9 });
    assert.deepEqual(parseTrackFileValue(`${' '.repeat(127)}9`), { value: 0 });
  });
});

describe('trackWeights: reference weight over definition weight over keepalived default', () => {
  it('resolves each kind', () => {
    const ws = trackWeights(
      {
        interfaces: [{ name: 'eth1' }, { name: 'eth2', weight: -20, reverse: true }],
        scripts: [{ name: 'chk' }, { name: 'chk2', weight: 7 }, { name: 'chk3' }],
        processes: [{ name: 'haproxy' }],
        files: [{ name: 'f' }, { name: 'g' }],
      },
      {
        scripts: [
          { name: 'chk', script: '/bin/true', weight: -30 },
          { name: 'chk2', script: '/bin/true', weight: -30 },
        ],
        trackProcesses: [{ name: 'haproxy', process: 'haproxy', weight: 12 }],
        trackFiles: [{ name: 'g', file: '/run/g', weight: 3 }],
      },
    );
    assert.deepEqual(ws, [
      { kind: 'interface', name: 'eth1', weight: 0 },
      { kind: 'interface', name: 'eth2', weight: -20, reverse: true },
      { kind: 'script', name: 'chk', weight: -30 },
      { kind: 'script', name: 'chk2', weight: 7 },
      { kind: 'script', name: 'chk3', weight: 0 },
      { kind: 'process', name: 'haproxy', weight: 12 },
      { kind: 'file', name: 'f', weight: 1 },
      { kind: 'file', name: 'g', weight: 3 },
    ]);
  });
});
