import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RevisionOutcome } from '../../src/agent/run-agent.ts';
import { agentStatusSource } from '../../src/api/agent-status-source.ts';
import { createConditionTracker, mergeConditions } from '../../src/api/conditions.ts';
import {
  buildNodeStatus,
  type Condition,
  type NodeStatus,
  type ReconcileRecord,
  redactUrl,
} from '../../src/api/node-status.ts';
import { agentStatus, COMMIT, instance, SECRET, T0 } from './status-fixtures.ts';

// GET /status's document: built purely from the agent's snapshot and the reconcile record;
// conditions say in one word what is wrong, and their transition time moves only with status.

const NOW = '2024-05-01T11:00:00.000Z';
const NEXT = 'fedcba9876543210fedcba9876543210fedcba98';

function record(over: Partial<ReconcileRecord> = {}): ReconcileRecord {
  return {
    source: { kind: 'git', url: 'https://git.example/fleet.git', ref: 'main', lastFetchAt: NOW },
    desired: COMMIT,
    lastGood: COMMIT,
    lastAttemptedRevision: COMMIT,
    lastAppliedRevision: COMMIT,
    refused: [],
    reconciling: false,
    lastReconcile: null,
    drift: [],
    ...over,
  };
}

const cond = (s: NodeStatus, type: Condition['type']) => {
  const c = s.conditions.find((x) => x.type === type);
  assert.ok(c, `no ${type} condition`);
  return c;
};
const brief = (s: NodeStatus) => s.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`);

describe('the node status document', () => {
  it('carries node, revision, instances with their VIPs and master, and real-server health', () => {
    const s = buildNodeStatus({
      agent: agentStatus(),
      record: record(),
      vips: { web4: ['192.0.2.100/24'], web6: ['2001:db8::100/64'] },
      now: NOW,
    });
    assert.equal(s.node, 'lb1');
    assert.equal(s.revision.applied, COMMIT);
    assert.deepEqual(
      s.instances.map((i) => [i.name, i.state, i.master, i.effectivePriority, i.vips]),
      [
        ['web4', 'Master', 'self', 110, ['192.0.2.100/24']],
        ['web6', 'Backup', '192.0.2.12', 90, ['2001:db8::100/64']],
      ],
    );
    assert.equal(s.virtualServers.length, 1);
    const vs = s.virtualServers[0];
    assert.deepEqual(
      { name: vs?.name, up: vs?.up, n: vs?.realServersUp, of: vs?.realServersTotal },
      { name: 'www', up: true, n: 1, of: 2 },
    );
    // The newest attempt of the real server's checks (the misc one, 5 s after T0).
    assert.deepEqual(vs?.realServers[0], {
      name: '198.51.100.11:80',
      up: true,
      since: new Date(T0).toISOString(),
      weight: 2,
      lastCheck: { kind: 'misc', ok: true, latencyMs: 4, at: new Date(T0 + 5000).toISOString() },
    });
    assert.deepEqual(vs?.realServers[1]?.lastCheck, {
      kind: 'http',
      ok: false,
      reason: 'status 503, expected 200-299',
      latencyMs: 12,
      at: new Date(T0 + 3000).toISOString(),
    });
    assert.equal(s.loadBalancer?.dataplane, 'nftables');
    assert.deepEqual(brief(s), ['Ready=True:Converged', 'Reconciling=False:Idle', 'Stalled=False:Healthy']);
  });

  it('never carries secrets: check identities dropped, URL credentials and query removed', () => {
    const s = buildNodeStatus({
      agent: agentStatus(),
      record: record({
        source: {
          kind: 'git',
          url: `https://deploy:${SECRET}@git.example/fleet.git?private_token=${SECRET}`,
          ref: 'main',
          lastFetchAt: null,
        },
      }),
      now: NOW,
    });
    const text = JSON.stringify(s);
    assert.ok(!text.includes(SECRET), text);
    assert.equal(s.source.url, 'https://git.example/fleet.git');
    assert.equal(s.loadBalancer?.realServers[0]?.checks[0]?.kind, 'misc');
  });

  it('redacts only URLs, leaving a directory path as it is', () => {
    assert.equal(redactUrl('http://u:p@192.0.2.1:3000/r.git#x'), 'http://192.0.2.1:3000/r.git');
    assert.equal(redactUrl('/srv/fleet'), '/srv/fleet');
    assert.equal(redactUrl('dir:/srv/fleet'), 'dir:/srv/fleet');
  });

  it('Ready is False while an instance starts or is in Fault, naming it and its faults', () => {
    const starting = buildNodeStatus({
      agent: agentStatus({ instances: [instance({ state: 'Initialize' })] }),
      record: record(),
      now: NOW,
    });
    assert.equal(cond(starting, 'Ready').status, 'False');
    assert.equal(cond(starting, 'Ready').reason, 'InstanceStarting');
    const fault = buildNodeStatus({
      agent: agentStatus({ instances: [instance({ state: 'Fault', faults: ['interface eth0 down'] })] }),
      record: record(),
      now: NOW,
    });
    assert.equal(cond(fault, 'Ready').reason, 'InstanceFault');
    assert.match(cond(fault, 'Ready').message, /web4 in Fault \(interface eth0 down\)/);
  });

  it('a refused desired revision: not Ready, Stalled, not Reconciling', () => {
    const s = buildNodeStatus({
      agent: agentStatus(),
      record: record({
        desired: NEXT,
        lastAttemptedRevision: NEXT,
        refused: [{ rev: NEXT, reason: 'policy vip-in-range failed', at: NOW }],
      }),
      now: NOW,
    });
    assert.deepEqual(brief(s), [
      'Ready=False:RevisionRefused',
      'Reconciling=False:Idle',
      'Stalled=True:RevisionRefused',
    ]);
    assert.match(cond(s, 'Stalled').message, /policy vip-in-range failed/);
    assert.deepEqual(s.revision.refused, [{ rev: NEXT, reason: 'policy vip-in-range failed', at: NOW }]);
  });

  it('a newer revision waiting or applying: Reconciling, not yet Ready', () => {
    const waiting = buildNodeStatus({ agent: agentStatus(), record: record({ desired: NEXT }), now: NOW });
    assert.deepEqual(brief(waiting), [
      'Ready=False:RevisionPending',
      'Reconciling=True:RevisionPending',
      'Stalled=False:Healthy',
    ]);
    const applying = buildNodeStatus({
      agent: agentStatus(),
      record: record({ desired: NEXT, reconciling: true }),
      now: NOW,
    });
    assert.equal(cond(applying, 'Reconciling').reason, 'Progressing');
  });

  it('drift and a refused dataplane apply make the node not Ready; a source error only Stalled', () => {
    const drift = buildNodeStatus({
      agent: agentStatus(),
      record: record({
        drift: [
          { kind: 'vip', subject: 'web4 192.0.2.100/24', expected: 'present', actual: 'absent', since: NOW },
        ],
      }),
      now: NOW,
    });
    assert.equal(cond(drift, 'Ready').reason, 'Drifted');
    assert.match(cond(drift, 'Ready').message, /vip web4 192\.0\.2\.100\/24/);

    const lb = agentStatus().loadBalancer;
    assert.ok(lb);
    const dataplane = buildNodeStatus({
      agent: agentStatus({ loadBalancer: { ...lb, lastApply: { at: NOW, ok: false, error: 'nft: EPERM' } } }),
      record: record(),
      now: NOW,
    });
    assert.equal(cond(dataplane, 'Ready').reason, 'DataplaneError');
    assert.match(cond(dataplane, 'Ready').message, /nftables dataplane refused the last apply: nft: EPERM/);

    // The node still serves its last revision: Ready stays, a person is still needed.
    const source = buildNodeStatus({
      agent: agentStatus(),
      record: record({
        source: {
          kind: 'git',
          url: 'https://git.example/fleet.git',
          ref: 'main',
          lastFetchAt: null,
          lastError: 'connect ECONNREFUSED',
        },
      }),
      now: NOW,
    });
    assert.deepEqual(brief(source), [
      'Ready=True:Converged',
      'Reconciling=False:Idle',
      'Stalled=True:SourceError',
    ]);
  });
});

describe('condition transition times', () => {
  it('keep their time while the status stays, even when reason and message change', () => {
    const first = mergeConditions([], [{ type: 'Ready', status: 'False', reason: 'A', message: 'a' }], 't1');
    const same = mergeConditions(
      first,
      [{ type: 'Ready', status: 'False', reason: 'B', message: 'b' }],
      't2',
    );
    assert.deepEqual(same, [
      { type: 'Ready', status: 'False', reason: 'B', message: 'b', lastTransitionTime: 't1' },
    ]);
    const flipped = mergeConditions(
      same,
      [{ type: 'Ready', status: 'True', reason: 'C', message: 'c' }],
      't3',
    );
    assert.equal(flipped[0]?.lastTransitionTime, 't3');
  });

  it('the tracker remembers across updates', () => {
    const t = createConditionTracker();
    t.update([{ type: 'Stalled', status: 'False', reason: 'Healthy', message: '' }], 't1');
    t.update([{ type: 'Stalled', status: 'False', reason: 'Healthy', message: '' }], 't2');
    assert.equal(t.current()[0]?.lastTransitionTime, 't1');
    t.update([{ type: 'Stalled', status: 'True', reason: 'SourceError', message: '' }], 't3');
    assert.equal(t.current()[0]?.lastTransitionTime, 't3');
  });
});

describe("the agent's status source", () => {
  function fixture() {
    let now = T0;
    let agent = agentStatus();
    const src = agentStatusSource({
      agent: { status: () => agent },
      source: { kind: 'dir', url: '/srv/fleet', ref: null, lastFetchAt: null },
      vips: () => ({ web4: ['192.0.2.100/24'] }),
      wallClock: () => now,
    });
    return {
      src,
      advance: (ms: number) => {
        now += ms;
      },
      setAgent: (a: typeof agent) => {
        agent = a;
      },
    };
  }

  it('records applied and refused revisions, with timing, for status and metrics', async () => {
    const f = fixture();
    const start = f.src.status();
    assert.equal(start.revision.desired, COMMIT);
    assert.equal(start.revision.lastGood, COMMIT);
    assert.equal(start.instances[0]?.vips[0], '192.0.2.100/24');
    const readySince = start.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime;

    const refused = await f.src.reconcile(NEXT, async (): Promise<RevisionOutcome> => {
      f.advance(250);
      return { applied: false, revision: NEXT, reason: 'it changes the dataplane' };
    });
    assert.equal(refused.applied, false);
    let s = f.src.status();
    assert.equal(s.revision.desired, NEXT);
    assert.equal(s.revision.lastAttemptedRevision, NEXT);
    assert.equal(s.revision.lastAppliedRevision, COMMIT);
    assert.equal(s.revision.refused[0]?.rev, NEXT);
    assert.deepEqual(
      { result: s.lastReconcile?.result, ms: s.lastReconcile?.durationMs },
      { result: 'refused', ms: 250 },
    );
    assert.equal(s.conditions.find((c) => c.type === 'Ready')?.reason, 'RevisionRefused');
    assert.notEqual(s.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime, readySince);

    // Applied: the agent reports the new revision.
    const third = '1111111111111111111111111111111111111111';
    await f.src.reconcile(third, async () => {
      f.setAgent(agentStatus({ revision: third }));
      return { applied: true, revision: third };
    });
    s = f.src.status();
    assert.deepEqual(
      [s.revision.applied, s.revision.lastGood, s.revision.lastAppliedRevision, s.lastReconcile?.result],
      [third, third, third, 'applied'],
    );
    assert.equal(s.conditions.find((c) => c.type === 'Ready')?.status, 'True');

    f.src.refuse('bad', 'keepgit.yaml:3: instances[0].vrid: expected a number');
    assert.equal(
      f.src.status().revision.refused[0]?.reason,
      'keepgit.yaml:3: instances[0].vrid: expected a number',
    );

    const text = f.src.metrics();
    assert.match(text, /^keepgit_reconcile_total\{result="refused"\} 2$/m);
    assert.match(text, /^keepgit_reconcile_total\{result="applied"\} 1$/m);
    assert.match(text, /^keepgit_reconcile_errors_total 2$/m);
  });

  it('an apply that throws is a failed reconcile (Stalled), and the error still reaches the caller', async () => {
    const f = fixture();
    await assert.rejects(
      f.src.reconcile(NEXT, async () => {
        throw new Error('netlink: EPERM');
      }),
      /EPERM/,
    );
    const s = f.src.status();
    assert.equal(s.lastReconcile?.result, 'failed');
    assert.equal(s.conditions.find((c) => c.type === 'Stalled')?.reason, 'ReconcileFailed');
    assert.equal(s.conditions.find((c) => c.type === 'Reconciling')?.reason, 'Failed');
  });

  it('reports the source error it is told of, and forgets it on success', () => {
    const f = fixture();
    f.src.sourceChanged({ lastError: 'unreachable' });
    assert.equal(f.src.status().source.lastError, 'unreachable');
    f.src.sourceChanged({ lastFetchAt: NOW, lastError: undefined });
    assert.equal(f.src.status().source.lastError, undefined);
    assert.equal(f.src.status().source.lastFetchAt, NOW);
  });
});
