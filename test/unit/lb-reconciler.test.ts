import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ApplyStats,
  type Dataplane,
  type DataplaneContent,
  DataplaneError,
} from '../../src/drivers/dataplane/dataplane.ts';
import { nodeView } from '../../src/model/node-view.ts';
import { factKey } from '../../src/plan/dataplane-desired.ts';
import { LbReconciler } from '../../src/reconcile/lb-reconciler.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';
import { repositoryOf } from './agent-fakes.ts';

// The reconciler around the pure planner: facts and revisions in, one apply at a time out,
// drains timed, refusals kept in status with the previous content left alone.

const cluster = (servers: string[], drain = '5s') => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lb }
virtualServers:
  - name: www
    address: 203.0.113.10
    port: 80
    scheduler: rr
    drainTime: ${drain}
    realServers:
${servers.map((a) => `      - { address: ${a}, checks: [{ type: tcp }] }`).join('\n')}
`;

function view(servers: string[], drain?: string) {
  const repository = repositoryOf(cluster(servers, drain));
  return nodeView(
    repository.cluster.doc,
    repository.nodes.map((n) => n.doc),
    'lb1',
  );
}

/** Records what it is asked to hold; can be told to refuse, or to hold an apply open. */
function recorder() {
  const applied: DataplaneContent[] = [];
  const ctl = { refuse: false, gate: undefined as Promise<void> | undefined };
  const dp: Dataplane = {
    kind: 'nftables',
    probe: async () => ({ ok: false, kind: 'nftables', message: 'not used' }),
    read: async () => applied.at(-1) ?? { services: [] },
    apply: async (desired): Promise<ApplyStats> => {
      await ctl.gate;
      if (ctl.refuse) throw new DataplaneError('nftables', 'nft: Error: Could not process rule', 'www');
      applied.push(structuredClone(desired));
      return { added: 0, changed: 1, removed: 0, ms: 1 };
    },
    clear: async () => {
      applied.push({ services: [] });
    },
  };
  const weights = (i = -1) =>
    applied.at(i)?.services[0]?.destinations.map((d) => `${d.address}=${d.weight}`) ?? [];
  return { dp, applied, ctl, weights };
}

describe('LbReconciler', () => {
  it('applies on facts, coalescing triggers that arrive during an apply into one', async () => {
    const time = new FakeTime();
    const r = recorder();
    const rec = new LbReconciler({
      dataplane: r.dp,
      view: view(['198.51.100.11', '198.51.100.12']),
      clock: time,
      timers: time,
      log: () => {},
    });
    await rec.start(new Map());
    assert.deepEqual(r.weights(), ['198.51.100.11=1', '198.51.100.12=1']);

    let open: () => void = () => {};
    r.ctl.gate = new Promise((res) => {
      open = res;
    });
    const down = (a: string) => new Map([[factKey('www', `${a}:80`), { up: false }]]);
    const first = rec.factsChanged(down('198.51.100.11'));
    void rec.factsChanged(down('198.51.100.12'));
    const last = rec.factsChanged(new Map());
    r.ctl.gate = undefined;
    open();
    await Promise.all([first, last]);
    // One apply for the first trigger, one with the newest facts: the middle one never ran alone.
    assert.equal(r.applied.length, 3);
    assert.deepEqual(r.weights(1), ['198.51.100.12=1']);
    assert.deepEqual(r.weights(2), ['198.51.100.11=1', '198.51.100.12=1']);
  });

  it('drains a server a revision removes at weight 0 until drainTime, then deletes it', async () => {
    const time = new FakeTime();
    const r = recorder();
    const logs: LogEntry[] = [];
    const rec = new LbReconciler({
      dataplane: r.dp,
      view: view(['198.51.100.11', '198.51.100.12']),
      clock: time,
      timers: time,
      log: (e) => logs.push(e),
    });
    await rec.start(new Map());
    await rec.setView(view(['198.51.100.11']));
    assert.deepEqual(r.weights(), ['198.51.100.11=1', '198.51.100.12=0']);
    assert.deepEqual(rec.status().draining, [
      { virtualServer: 'www', destination: '198.51.100.12:80', untilMs: 5000 },
    ]);
    await time.advance(4999);
    assert.deepEqual(r.weights(), ['198.51.100.11=1', '198.51.100.12=0']);
    await time.advance(1);
    await rec.stop({ clear: false });
    assert.deepEqual(r.weights(), ['198.51.100.11=1']);
    assert.deepEqual(
      logs.filter((l) => l.event.startsWith('real-server-')).map((l) => l.event),
      ['real-server-draining', 'real-server-drained'],
    );
  });

  it('removes at once with drainTime 0s, and a server put back stops draining', async () => {
    const time = new FakeTime();
    const r = recorder();
    const rec = new LbReconciler({
      dataplane: r.dp,
      view: view(['198.51.100.11', '198.51.100.12'], '0s'),
      clock: time,
      timers: time,
      log: () => {},
    });
    await rec.start(new Map());
    await rec.setView(view(['198.51.100.11'], '0s'));
    assert.deepEqual(r.weights(), ['198.51.100.11=1']);

    const rec2 = new LbReconciler({
      dataplane: r.dp,
      view: view(['198.51.100.11', '198.51.100.12']),
      clock: time,
      timers: time,
      log: () => {},
    });
    await rec2.start(new Map());
    await rec2.setView(view(['198.51.100.11']));
    await rec2.setView(view(['198.51.100.11', '198.51.100.12']));
    assert.deepEqual(rec2.status().draining, []);
    assert.deepEqual(r.weights(), ['198.51.100.11=1', '198.51.100.12=1']);
    await rec2.stop({ clear: true });
    assert.deepEqual(r.applied.at(-1), { services: [] });
  });

  it('keeps a refusal in status and logs it with the driver’s words; the next trigger tries again', async () => {
    const time = new FakeTime();
    const r = recorder();
    const logs: LogEntry[] = [];
    const rec = new LbReconciler({
      dataplane: r.dp,
      view: view(['198.51.100.11']),
      clock: time,
      timers: time,
      log: (e) => logs.push(e),
    });
    r.ctl.refuse = true;
    await rec.start(new Map());
    const s = rec.status();
    assert.equal(s.lastApply?.ok, false);
    assert.match(s.lastApply?.error ?? '', /Could not process rule/);
    const err = logs.find((l) => l.event === 'dataplane-error');
    assert.equal(err?.reason, 'www');
    assert.match(err?.message ?? '', /keeps its previous content$/);
    r.ctl.refuse = false;
    await rec.factsChanged(new Map());
    assert.equal(rec.status().lastApply?.ok, true);
    assert.deepEqual(r.weights(), ['198.51.100.11=1']);
  });
});
