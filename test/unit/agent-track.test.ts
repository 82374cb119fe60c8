import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredFor } from '../../src/agent/load-desired.ts';
import { runAgent } from '../../src/agent/run-agent.ts';
import { loadRepository } from '../../src/config/load-repository.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { FakeSegment } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { ScriptCommand } from '../../src/track/argv.ts';
import type { RunOptions, RunResult } from '../../src/track/run-script.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';

// The agent's trackers with fakes: a vrrp_script run by a fake runner moves the instance's
// priority by its weight (or faults it with weight 0), and notify scripts run on transitions
// as the node's script user.

const CHECK = '/usr/local/bin/check-web';
const NOTIFY = '/usr/local/bin/notify-web';

const cluster = (weight: number) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: track }
scripts:
  - name: chk
    script: ${CHECK}
    interval: 1s
    weight: ${weight}
instances:
  - name: web4
    vrid: 51
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110 }
    vips: [192.0.2.100/24]
    track: { scripts: [chk] }
    notify: { master: ${NOTIFY} master }
`;

async function start(weight: number) {
  const loaded = loadRepository(
    new Map([
      ['keepgit.yaml', cluster(weight)],
      ['nodes/lb1.yaml', 'apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: lb1 }\n'],
    ]),
  );
  assert.ok(loaded.repository, JSON.stringify(loaded.diagnostics));
  const desired = desiredFor(loaded.repository, 'lb1');
  assert.ok(desired.ok);
  const addresses = new FakeAddressDriver();
  addresses.outside.addAddress({ address: '192.0.2.11/24', dev: 'eth0' });
  const time = new FakeTime();
  const logs: LogEntry[] = [];
  const check = { ok: true };
  const runs: { cmd: ScriptCommand; opts: RunOptions }[] = [];
  const runner = async (cmd: ScriptCommand, opts: RunOptions): Promise<RunResult> => {
    runs.push({ cmd, opts });
    return { kind: 'exit', code: cmd.argv[0] === CHECK && !check.ok ? 1 : 0 };
  };
  const r = await runAgent(
    { node: 'lb1', repository: loaded.repository, view: desired.view, revision: 'test' },
    {
      openTransport: new FakeSegment().open,
      addresses,
      clock: time,
      timers: time,
      log: (e) => logs.push(e),
      secrets: { env: {}, readFile: () => '' },
      runner,
      // No keepalived_script user on this "node": scripts run as the agent itself.
      getent: async () => undefined,
      self: { user: 'agent', uid: 1234, gid: 1234 },
    },
  );
  assert.ok(r.ok, r.ok ? '' : r.message);
  const web4 = () => {
    const s = r.agent.status().instances[0];
    assert.ok(s);
    return s;
  };
  return { agent: r.agent, time, check, runs, logs, web4 };
}

describe('agent trackers (fakes)', () => {
  it('a failing vrrp_script lowers the priority by its weight, and its recovery restores it', async () => {
    const t = await start(-20);
    await t.time.advance(1000);
    assert.equal(t.web4().state, 'Master');
    assert.equal(t.web4().effectivePriority, 110);

    t.check.ok = false;
    await t.time.advance(1000);
    assert.equal(t.web4().effectivePriority, 90);
    assert.equal(t.web4().state, 'Master', 'alone on the link, a lower priority is still master');
    assert.deepEqual(t.web4().faults, []);

    t.check.ok = true;
    await t.time.advance(1000);
    assert.equal(t.web4().effectivePriority, 110);

    // notify_master ran once, as the agent's identity, with its arguments.
    const notified = t.runs.filter((r) => r.cmd.argv[0] === NOTIFY);
    assert.deepEqual(
      notified.map((r) => r.cmd.argv),
      [[NOTIFY, 'master']],
    );
    assert.equal(notified[0]?.opts.runAs?.uid, 1234);
    assert.ok(t.logs.some((l) => l.event === 'notify' && l.kind === 'result' && l.level === 'info'));
    const checks = t.runs.filter((r) => r.cmd.argv[0] === CHECK);
    assert.ok(checks.length >= 3, 'one shared tracker runs every interval');

    const stopped = t.agent.stop();
    await t.time.advance(1000);
    await stopped;
    const after = t.runs.filter((r) => r.cmd.argv[0] === CHECK).length;
    await t.time.advance(5000);
    assert.equal(t.runs.filter((r) => r.cmd.argv[0] === CHECK).length, after, 'the tracker is stopped');
  });

  it('a weight-0 vrrp_script that fails puts the instance in Fault until it succeeds again', async () => {
    const t = await start(0);
    await t.time.advance(1000);
    assert.equal(t.web4().state, 'Master');

    t.check.ok = false;
    await t.time.advance(1000);
    assert.equal(t.web4().state, 'Fault');
    assert.deepEqual(t.web4().faults, ['track:chk']);
    assert.equal(t.web4().effectivePriority, 110);

    t.check.ok = true;
    await t.time.advance(2000);
    assert.deepEqual(t.web4().faults, []);
    assert.equal(t.web4().state, 'Master');
    await t.agent.abandon();
  });
});
