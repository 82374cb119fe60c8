import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IpvsCommand } from '../../src/drivers/ipvs/encode-ipvs.ts';
import { AF_INET, IP_VS_CONN_F, IPPROTO } from '../../src/drivers/ipvs/ip-vs-constants.ts';
import {
  describeDest,
  describeService,
  type IpvsDest,
  type IpvsService,
} from '../../src/drivers/ipvs/ipvs-records.ts';
import { type OwnedEntry, planIpvsApply } from '../../src/drivers/ipvs/plan-ipvs-apply.ts';
import { type ExecResult, runIpvsJournal } from '../../src/drivers/ipvs/run-ipvs-journal.ts';

// The apply plan as a pure function: which commands, in which order, with which inverses;
// and the journal that runs them and takes them back when the kernel refuses one.

const svc = (addr: string, port: number, extra: Partial<IpvsService> = {}): IpvsService => ({
  af: AF_INET,
  fwmark: 0,
  protocol: IPPROTO.TCP,
  addr,
  port,
  scheduler: 'wrr',
  flags: 0,
  timeout: 0,
  netmask: 0xffffffff,
  ...extra,
});

const dest = (addr: string, weight = 1, extra: Partial<IpvsDest> = {}): IpvsDest => ({
  af: AF_INET,
  addr,
  port: 80,
  fwdMethod: IP_VS_CONN_F.MASQ,
  weight,
  uThreshold: 0,
  lThreshold: 0,
  ...extra,
});

const entry = (key: string, service: IpvsService, dests: IpvsDest[]): OwnedEntry => ({ key, service, dests });

/** "new-dest TCP 203.0.113.10:80 198.51.100.11:80 w2" */
function show(c: IpvsCommand): string {
  const parts = [c.op, describeService(c.service)];
  if (c.op === 'new-service' || c.op === 'set-service') parts.push(c.service.scheduler);
  if ('dest' in c) {
    parts.push(describeDest(c.dest));
    if ('weight' in c.dest) parts.push(`w${c.dest.weight}`);
  }
  return parts.join(' ');
}

const www = svc('203.0.113.10', 80);
const api = svc('203.0.113.20', 443);

describe('ipvs plan: order and inverses', () => {
  it('from empty: each service, then its real servers', () => {
    const plan = planIpvsApply(
      [],
      [
        entry('www', www, [dest('198.51.100.12'), dest('198.51.100.11', 2)]),
        entry('api', api, [dest('198.51.100.21')]),
      ],
    );
    assert.deepEqual(
      plan.steps.map((s) => show(s.do)),
      [
        'new-service TCP 203.0.113.10:80 wrr',
        'new-dest TCP 203.0.113.10:80 198.51.100.11:80 w2',
        'new-dest TCP 203.0.113.10:80 198.51.100.12:80 w1',
        'new-service TCP 203.0.113.20:443 wrr',
        'new-dest TCP 203.0.113.20:443 198.51.100.21:80 w1',
      ],
    );
    assert.deepEqual(
      plan.steps.map((s) => s.undo.map(show)),
      [
        ['del-service TCP 203.0.113.10:80'],
        ['del-dest TCP 203.0.113.10:80 198.51.100.11:80'],
        ['del-dest TCP 203.0.113.10:80 198.51.100.12:80'],
        ['del-service TCP 203.0.113.20:443'],
        ['del-dest TCP 203.0.113.20:443 198.51.100.21:80'],
      ],
    );
    assert.deepEqual([plan.added, plan.changed, plan.removed], [['www', 'api'], [], []]);
  });

  it('nothing to do when live equals desired', () => {
    const e = [entry('www', www, [dest('198.51.100.11')])];
    const plan = planIpvsApply(e, structuredClone(e));
    assert.deepEqual(plan, { steps: [], added: [], changed: [], removed: [] });
  });

  it('replacing a real server adds the new one before deleting the old', () => {
    const plan = planIpvsApply(
      [entry('www', www, [dest('198.51.100.11'), dest('198.51.100.12')])],
      [entry('www', www, [dest('198.51.100.11'), dest('198.51.100.13')])],
    );
    assert.deepEqual(
      plan.steps.map((s) => show(s.do)),
      ['new-dest TCP 203.0.113.10:80 198.51.100.13:80 w1', 'del-dest TCP 203.0.113.10:80 198.51.100.12:80'],
    );
    assert.deepEqual(plan.steps[1]?.undo.map(show), ['new-dest TCP 203.0.113.10:80 198.51.100.12:80 w1']);
    assert.deepEqual(plan.changed, ['www']);
  });

  it('a weight or forwarding change edits the real server in place, undo restores the old values', () => {
    const old = dest('198.51.100.11', 2, { uThreshold: 100 });
    const plan = planIpvsApply(
      [entry('www', www, [old])],
      [entry('www', www, [dest('198.51.100.11', 0, { fwdMethod: IP_VS_CONN_F.DROUTE })])],
    );
    assert.equal(plan.steps.length, 1);
    const [step] = plan.steps;
    assert.equal(step?.do.op, 'set-dest');
    assert.deepEqual(step?.undo, [{ op: 'set-dest', service: plan.steps[0]?.do.service, dest: old }]);
  });

  it('a scheduler or persistence change edits the service in place (connections stay)', () => {
    const persistent = svc('203.0.113.10', 80, {
      scheduler: 'sh',
      flags: 1,
      timeout: 300,
      netmask: 0xffffff00,
    });
    const plan = planIpvsApply([entry('www', www, [])], [entry('www', persistent, [])]);
    assert.deepEqual(
      plan.steps.map((s) => [show(s.do), s.undo.map(show)]),
      [['set-service TCP 203.0.113.10:80 sh', ['set-service TCP 203.0.113.10:80 wrr']]],
    );
    assert.deepEqual(plan.steps[0]?.undo[0], { op: 'set-service', service: www });
  });

  it('a removed service is deleted last; its inverse recreates it with every real server', () => {
    const plan = planIpvsApply(
      [entry('old', api, [dest('198.51.100.22', 3), dest('198.51.100.21')]), entry('www', www, [])],
      [entry('www', www, [dest('198.51.100.11')])],
    );
    assert.deepEqual(
      plan.steps.map((s) => show(s.do)),
      ['new-dest TCP 203.0.113.10:80 198.51.100.11:80 w1', 'del-service TCP 203.0.113.20:443'],
    );
    assert.deepEqual(plan.steps[1]?.undo.map(show), [
      'new-service TCP 203.0.113.20:443 wrr',
      'new-dest TCP 203.0.113.20:443 198.51.100.21:80 w1',
      'new-dest TCP 203.0.113.20:443 198.51.100.22:80 w3',
    ]);
    assert.deepEqual([plan.added, plan.changed, plan.removed], [[], ['www'], ['old']]);
  });

  it('a virtual server moving to a new address answers there before the old one goes', () => {
    const moved = svc('203.0.113.11', 80);
    const plan = planIpvsApply(
      [entry('www', www, [dest('198.51.100.11')])],
      [entry('www', moved, [dest('198.51.100.11')])],
    );
    assert.deepEqual(
      plan.steps.map((s) => show(s.do)),
      [
        'new-service TCP 203.0.113.11:80 wrr',
        'new-dest TCP 203.0.113.11:80 198.51.100.11:80 w1',
        'del-service TCP 203.0.113.10:80',
      ],
    );
  });

  it('phases run across services: all additions, then edits, then deletions', () => {
    const plan = planIpvsApply(
      [entry('api', api, [dest('198.51.100.21')]), entry('www', www, [dest('198.51.100.11')])],
      [
        entry('api', api, [dest('198.51.100.22')]),
        entry('www', svc('203.0.113.10', 80, { scheduler: 'lc' }), [dest('198.51.100.11', 5)]),
      ],
    );
    assert.deepEqual(
      plan.steps.map((s) => s.do.op),
      ['new-dest', 'set-service', 'set-dest', 'del-dest'],
    );
  });
});

describe('ipvs journal: all or nothing over a kernel without transactions', () => {
  const plan = planIpvsApply(
    [entry('api', api, [dest('198.51.100.21')])],
    [entry('www', www, [dest('198.51.100.11'), dest('198.51.100.12')])],
  );
  // new-service www, new-dest .11, new-dest .12, del-service api

  const scripted = (refuse: (c: IpvsCommand, n: number) => boolean) => {
    const sent: string[] = [];
    const exec = async (c: IpvsCommand): Promise<ExecResult> => {
      sent.push(show(c));
      return refuse(c, sent.length) ? { ok: false, message: `refused ${show(c)}` } : { ok: true };
    };
    return { sent, exec };
  };

  it('runs every step when the kernel accepts them', async () => {
    const k = scripted(() => false);
    assert.deepEqual(await runIpvsJournal(plan.steps, k.exec), { ok: true, done: 4 });
    assert.equal(k.sent.length, 4);
  });

  for (let failAt = 0; failAt < 4; failAt++)
    it(`message ${failAt + 1} refused: the ${failAt} before it are undone, newest first`, async () => {
      const k = scripted((_c, n) => n === failAt + 1);
      const r = await runIpvsJournal(plan.steps, k.exec);
      assert.ok(!r.ok);
      assert.equal(r.failedAt, failAt);
      assert.equal(r.undone, failAt);
      const expectedUndo = plan.steps
        .slice(0, failAt)
        .reverse()
        .flatMap((s) => s.undo.map(show));
      assert.deepEqual(k.sent, [...plan.steps.slice(0, failAt + 1).map((s) => show(s.do)), ...expectedUndo]);
    });

  it('the rollback of a deleted service recreates it and its real servers, in order', async () => {
    const steps = planIpvsApply([entry('api', api, [dest('198.51.100.21', 4)])], []).steps;
    const k = scripted((c) => c.op === 'new-service' && c.service.port === 999);
    const failing = [
      ...steps,
      { key: 'x', do: { op: 'new-service', service: svc('203.0.113.99', 999) }, undo: [] },
    ];
    const r = await runIpvsJournal(failing as typeof steps, k.exec);
    assert.ok(!r.ok);
    assert.deepEqual(k.sent, [
      'del-service TCP 203.0.113.20:443',
      'new-service TCP 203.0.113.99:999 wrr',
      'new-service TCP 203.0.113.20:443 wrr',
      'new-dest TCP 203.0.113.20:443 198.51.100.21:80 w4',
    ]);
  });

  it('an inverse the kernel refuses is reported, and the remaining inverses still run', async () => {
    const k = scripted((c, n) => n === 4 || (c.op === 'del-dest' && c.dest.addr === '198.51.100.12'));
    const r = await runIpvsJournal(plan.steps, k.exec);
    assert.ok(!r.ok);
    assert.equal(r.undone, 3);
    assert.deepEqual(r.undoFailures, ['refused del-dest TCP 203.0.113.10:80 198.51.100.12:80']);
    assert.equal(k.sent.at(-1), 'del-service TCP 203.0.113.10:80');
  });

  it('a command that throws (no answer) counts as refused', async () => {
    let n = 0;
    const r = await runIpvsJournal(plan.steps, async () => {
      n++;
      if (n === 2) throw new Error('the kernel did not answer within 5000 ms');
      return { ok: true };
    });
    assert.ok(!r.ok);
    assert.equal(r.message, 'the kernel did not answer within 5000 ms');
    assert.equal(n, 3);
  });
});
