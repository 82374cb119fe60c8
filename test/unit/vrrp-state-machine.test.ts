import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type MachineConfig,
  type MachineConfigSource,
  machineConfig,
} from '../../src/vrrp/machine-config.ts';
import {
  initialMachineState,
  type MachineState,
  step,
  VRRP_STATE_NAMES,
  type VrrpAction,
  type VrrpEvent,
  type VrrpStateName,
} from '../../src/vrrp/state-machine.ts';
import {
  initialMasterWaitMs,
  masterDownIntervalMs,
  releaseBoundMs,
  skewTimeMs,
} from '../../src/vrrp/timers.ts';

// The machine is driven by a fake clock that fires every timer exactly at the deadline
// the machine asked for, so the times below are the protocol's, to the microsecond.

const LB1 = '192.0.2.11';
const LB2 = '192.0.2.12';

function config(over: Partial<MachineConfig> = {}): MachineConfig {
  return {
    version: 2,
    priority: 100,
    advertIntervalMs: 1000,
    preempt: true,
    preemptDelayMs: 0,
    initialState: 'BACKUP',
    address: LB2,
    lowerPrioNoAdvert: false,
    higherPrioSendAdvert: false,
    ownerIgnoreAdverts: false,
    reannounceOnLowerPriority: true,
    ...over,
  };
}

interface Logged {
  at: number;
  action: VrrpAction;
}

/** One machine under a fake clock. */
function machine(cfg: MachineConfig, t0 = 0) {
  let state = initialMachineState(cfg, t0);
  let deadline: number | undefined;
  const log: Logged[] = [];
  const feed = (event: VrrpEvent, at: number): readonly VrrpAction[] => {
    const r = step(state, event, at);
    state = r.state;
    deadline = r.nextDeadline;
    for (const action of r.actions) log.push({ at, action });
    return r.actions;
  };
  const advance = (to: number, inclusive = true): void => {
    while (deadline !== undefined && (deadline < to || (inclusive && deadline === to)))
      feed({ type: 'timer' }, deadline);
  };
  return {
    get state(): MachineState {
      return state;
    },
    get deadline(): number | undefined {
      return deadline;
    },
    log,
    advance,
    /** Let the clock run to `t` (firing timers on the way), then deliver `event` at `t`. */
    at(t: number, event: VrrpEvent): readonly VrrpAction[] {
      // a timer due exactly at `t` is the step's to fire, so that its actions are returned
      advance(t, false);
      return feed(event, t);
    },
    /** When the machine first did something of this type. */
    when(type: VrrpAction['type'], after = Number.NEGATIVE_INFINITY): number | undefined {
      return log.find((l) => l.action.type === type && l.at >= after)?.at;
    },
  };
}

const advert = (srcAddr: string, priority: number, intervalMs = 1000): VrrpEvent => ({
  type: 'advert',
  srcAddr,
  priority,
  intervalMs,
});

const transitions = (log: Logged[]) => log.flatMap((l) => (l.action.type === 'notify' ? [l.action] : []));

const types = (actions: readonly VrrpAction[]): string[] => actions.map((a) => a.type);

describe('VRRP timers', () => {
  it('computes RFC 3768 skew in seconds whatever the interval', () => {
    assert.equal(skewTimeMs(2, 100, 1000), 609.375);
    assert.equal(skewTimeMs(2, 100, 3000), 609.375);
    assert.equal(masterDownIntervalMs(2, 100, 1000), 3609.375);
  });
  it('computes RFC 5798 skew from Master_Adver_Interval', () => {
    assert.equal(skewTimeMs(3, 100, 100), 60.9375);
    assert.equal(masterDownIntervalMs(3, 100, 100), 360.9375);
    assert.equal(masterDownIntervalMs(3, 100, 1000), 3609.375);
  });
  it('bounds the wait of keepalived state MASTER and of a stopping master', () => {
    assert.equal(initialMasterWaitMs(2, 1000), 1003.90625);
    assert.equal(initialMasterWaitMs(3, 100), 100.390625);
    assert.equal(releaseBoundMs(2, 1000), 2996.09375);
  });
});

describe('machineConfig (keepalived option rules)', () => {
  const view = (over: Partial<MachineConfigSource> = {}): MachineConfigSource => ({
    version: 2,
    priority: 100,
    advertIntervalMs: 1000,
    preempt: true,
    preemptDelayMs: 0,
    flags: {
      strict: false,
      skipCheckAdvAddr: false,
      checkUnicastSrc: false,
      lowerPrioNoAdvert: false,
      higherPrioSendAdvert: false,
      acceptVips: false,
      dontTrackPrimary: false,
    },
    ...over,
  });
  const flags = (over: Partial<MachineConfigSource['flags']>) => ({ ...view().flags, ...over });

  it('derives the initial state from the priority', () => {
    assert.equal(machineConfig(view(), LB1).initialState, 'BACKUP');
    assert.equal(machineConfig(view({ priority: 255 }), LB1).initialState, 'MASTER');
    assert.equal(machineConfig(view({ priority: 255, state: 'BACKUP' }), LB1).initialState, 'BACKUP');
  });
  it('lets neither the owner nor state MASTER be held back by nopreempt or preempt_delay', () => {
    const owner = machineConfig(view({ priority: 255, preempt: false }), LB1);
    assert.equal(owner.preempt, true);
    const m = machineConfig(view({ state: 'MASTER', preempt: false, preemptDelayMs: 5000 }), LB1);
    assert.deepEqual([m.preempt, m.preemptDelayMs], [true, 0]);
    assert.equal(machineConfig(view({ preempt: false, preemptDelayMs: 5000 }), LB1).preemptDelayMs, 0);
    assert.equal(machineConfig(view({ preemptDelayMs: 5000 }), LB1).preemptDelayMs, 5000);
  });
  it('applies vrrp_strict', () => {
    const s = machineConfig(
      view({
        state: 'MASTER',
        preemptDelayMs: 5000,
        flags: flags({ strict: true, higherPrioSendAdvert: true }),
      }),
      LB1,
    );
    assert.equal(s.initialState, 'BACKUP'); // state must match ownership
    assert.equal(s.preemptDelayMs, 0);
    assert.equal(s.lowerPrioNoAdvert, true);
    assert.equal(s.higherPrioSendAdvert, false);
    assert.equal(s.reannounceOnLowerPriority, false);
    assert.equal(s.ownerIgnoreAdverts, false);
    const owner = machineConfig(view({ priority: 255, flags: flags({ strict: true }) }), LB1);
    assert.equal(owner.ownerIgnoreAdverts, true);
  });
  it('refuses a configuration the machine cannot run', () => {
    assert.throws(() => initialMachineState(config({ priority: 0 }), 0), RangeError);
    assert.throws(() => initialMachineState(config({ advertIntervalMs: 0 }), 0), RangeError);
    assert.throws(() => initialMachineState(config({ address: 'eth0' }), 0), RangeError);
  });
});

describe('Initialize (RFC 5798 6.4.1)', () => {
  it('starts as backup and takes over after Master_Down_Interval (v2, priority 100, 1 s)', () => {
    const m = machine(config());
    assert.deepEqual(m.at(0, { type: 'start' }), [
      { type: 'notify', from: 'Initialize', to: 'Backup', reason: 'start' },
    ]);
    assert.equal(m.state.current, 'Backup');
    assert.equal(m.deadline, 3609.375);
    assert.deepEqual(m.at(3609.374, { type: 'timer' }), []);
    assert.equal(m.state.current, 'Backup');
    assert.deepEqual(m.at(3609.375, { type: 'timer' }), [
      { type: 'sendAdvert', priority: 100 },
      { type: 'becomeMaster' },
      { type: 'notify', from: 'Backup', to: 'Master', reason: 'master-down' },
    ]);
    assert.equal(m.state.current, 'Master');
    assert.equal(m.state.since, 3609.375);
    assert.equal(m.deadline, 4609.375);
    assert.deepEqual(m.state.master, { address: LB2, priority: 100 });
  });

  it('takes over after 300 + 60.9375 ms with v3 and a 100 ms interval', () => {
    const m = machine(config({ version: 3, advertIntervalMs: 100 }));
    m.at(0, { type: 'start' });
    m.advance(1000);
    assert.equal(m.when('becomeMaster'), 360.9375);
  });

  it('makes the address owner master at once', () => {
    const m = machine(config({ priority: 255, initialState: 'MASTER' }));
    assert.deepEqual(m.at(7, { type: 'start' }), [
      { type: 'sendAdvert', priority: 255 },
      { type: 'becomeMaster' },
      { type: 'notify', from: 'Initialize', to: 'Master', reason: 'address-owner' },
    ]);
    assert.equal(m.deadline, 1007);
  });

  it('gives a non-owner state MASTER one interval plus the least skew (keepalived)', () => {
    const m = machine(config({ priority: 110, initialState: 'MASTER', address: LB1 }));
    m.at(0, { type: 'start' });
    assert.equal(m.state.current, 'Backup');
    m.advance(5000);
    assert.equal(m.when('becomeMaster'), 1003.90625);
  });

  it('lets an owner configured state BACKUP wait its (short) down interval (keepalived)', () => {
    const m = machine(config({ priority: 255 }));
    m.at(0, { type: 'start' });
    m.advance(5000);
    assert.equal(m.when('becomeMaster'), 3003.90625);
  });

  it('ignores adverts until started', () => {
    const m = machine(config());
    assert.deepEqual(m.at(0, advert(LB1, 110)), []);
    assert.equal(m.state.current, 'Initialize');
    assert.equal(m.deadline, undefined);
  });
});

describe('Backup (RFC 5798 6.4.2)', () => {
  it('resets the master-down timer on each advert of priority >= its own', () => {
    const m = machine(config());
    m.at(0, { type: 'start' });
    m.at(1000, advert(LB1, 110));
    m.at(2000, advert(LB1, 100)); // equal priority is also accepted, whatever the address
    assert.equal(m.deadline, 5609.375);
    assert.deepEqual(m.state.master, { address: LB1, priority: 100 });
    m.advance(10_000);
    // the shared capture: keepalived takes over 3.61 s after the last advert
    assert.equal(m.when('becomeMaster'), 2000 + 3609.375);
  });

  it('takes over after its skew only when the master resigns (priority 0)', () => {
    const m = machine(config());
    m.at(0, { type: 'start' });
    m.at(1000, advert(LB1, 110));
    m.at(1500, advert(LB1, 0));
    assert.equal(m.deadline, 1500 + 609.375);
    m.advance(5000);
    assert.equal(m.when('becomeMaster'), 2109.375);
    assert.equal(transitions(m.log).at(-1)?.reason, 'master-resigned');
  });

  it('preempts a lower-priority master by letting its timer run out', () => {
    const m = machine(config({ priority: 110, address: LB1 }));
    m.at(0, { type: 'start' });
    for (let t = 1000; t <= 3000; t += 1000) assert.deepEqual(m.at(t, advert(LB2, 100)), []);
    assert.deepEqual(m.state.master, { address: LB2, priority: 100 }); // recorded for status
    m.advance(4000);
    assert.equal(m.when('becomeMaster'), 3570.3125); // Master_Down_Interval after start
    assert.equal(m.state.current, 'Master');
    assert.deepEqual(m.log.at(-1)?.action, {
      type: 'notify',
      from: 'Backup',
      to: 'Master',
      reason: 'preempt',
    });
  });

  it('never takes over from a live lower-priority master with nopreempt', () => {
    const m = machine(config({ priority: 110, address: LB1, preempt: false }));
    m.at(0, { type: 'start' });
    for (let t = 1000; t <= 20_000; t += 1000) m.at(t, advert(LB2, 100));
    assert.equal(m.state.current, 'Backup');
    assert.equal(m.when('becomeMaster'), undefined);
    m.advance(30_000); // the master stops advertising
    assert.equal(m.when('becomeMaster'), 20_000 + 3570.3125);
  });

  it('obeys a lower-priority master for preempt_delay after first hearing it (keepalived)', () => {
    const m = machine(config({ priority: 110, address: LB1, preemptDelayMs: 5000 }));
    m.at(0, { type: 'start' });
    for (let t = 500; t <= 20_000; t += 1000) m.at(t, advert(LB2, 100));
    // delay from 500 to 5500: adverts up to 4500 are accepted, 5500 on are not
    assert.equal(m.when('becomeMaster'), 4500 + 3570.3125);
  });

  it('lets a better master cancel a running preempt_delay', () => {
    const m = machine(config({ priority: 110, address: LB1, preemptDelayMs: 5000 }));
    m.at(0, { type: 'start' });
    m.at(500, advert(LB2, 100));
    assert.equal(m.state.preemptDelayUntil, 5500);
    m.at(1500, advert('192.0.2.13', 120));
    assert.equal(m.state.preemptDelayUntil, undefined);
    m.at(2500, advert(LB2, 100)); // a new lower master: the delay starts again
    assert.equal(m.state.preemptDelayUntil, 7500);
  });

  it('learns Master_Adver_Interval from v3 adverts and uses it for both timers', () => {
    const m = machine(config({ version: 3 }));
    m.at(0, { type: 'start' });
    m.at(100, advert(LB1, 110, 100));
    assert.equal(m.state.masterAdverIntervalMs, 100);
    assert.equal(m.deadline, 100 + 360.9375);
    m.at(200, advert(LB1, 0, 100));
    assert.equal(m.deadline, 200 + 60.9375);
    m.advance(1000);
    assert.equal(m.when('becomeMaster'), 260.9375);
    // as master it advertises at its own interval again
    assert.equal(m.state.masterAdverIntervalMs, 1000);
    assert.equal(m.deadline, 1260.9375);
  });

  it('drops v2 adverts whose interval differs from its own (RFC 3768 7.1)', () => {
    const m = machine(config());
    m.at(0, { type: 'start' });
    m.at(1000, advert(LB1, 110, 2000));
    assert.equal(m.deadline, 3609.375);
    assert.equal(m.state.master, undefined);
  });

  it('moves its timer with its priority and takes over a master it now outranks', () => {
    const m = machine(config());
    m.at(0, { type: 'start' });
    m.at(1000, advert(LB1, 110));
    m.at(2000, advert(LB1, 110));
    m.at(2500, { type: 'priority', priority: 120 });
    assert.equal(m.deadline, 2000 + 3000 + 531.25);
    m.at(3000, advert(LB1, 110)); // now lower than ours: ignored
    m.advance(10_000);
    assert.equal(m.when('becomeMaster'), 5531.25);
  });

  it('keeps tracker priorities within 1..254 and leaves the owner at 255', () => {
    const m = machine(config());
    m.at(0, { type: 'priority', priority: 400 });
    assert.equal(m.state.priority, 254);
    m.at(0, { type: 'priority', priority: -20 });
    assert.equal(m.state.priority, 1);
    const owner = machine(config({ priority: 255, initialState: 'MASTER' }));
    owner.at(0, { type: 'priority', priority: 50 });
    assert.equal(owner.state.priority, 255);
  });
});

/** An instance that has been master for a while by 10 s (state MASTER, priority 200). */
function master(over: Partial<MachineConfig> = {}) {
  const m = machine(config({ priority: 200, initialState: 'MASTER', address: LB1, ...over }));
  m.at(0, { type: 'start' });
  m.advance(10_000);
  assert.equal(m.state.current, 'Master');
  return m;
}

describe('Master (RFC 5798 6.4.3)', () => {
  it('advertises every Advertisement_Interval', () => {
    const m = master();
    const sends = m.log.filter((l) => l.action.type === 'sendAdvert').map((l) => l.at);
    const first = m.when('becomeMaster') ?? Number.NaN;
    assert.deepEqual(
      sends,
      Array.from({ length: sends.length }, (_, i) => first + i * 1000),
    );
  });

  it('answers a priority-0 advert at once and restarts its advert timer', () => {
    const m = master();
    assert.deepEqual(m.at(10_500, advert(LB2, 0)), [{ type: 'sendAdvert', priority: 200 }]);
    assert.equal(m.deadline, 11_500);
  });

  it('yields to a higher priority', () => {
    const m = master();
    assert.deepEqual(m.at(10_500, advert(LB2, 250)), [
      { type: 'releaseVips' },
      { type: 'notify', from: 'Master', to: 'Backup', reason: 'higher-priority' },
    ]);
    assert.equal(m.state.current, 'Backup');
    assert.equal(m.deadline, 10_500 + masterDownIntervalMs(2, 200, 1000));
    assert.deepEqual(m.state.master, { address: LB2, priority: 250 });
  });

  it('advertises once before yielding with higher_prio_send_advert', () => {
    const m = master({ higherPrioSendAdvert: true });
    assert.deepEqual(types(m.at(10_500, advert(LB2, 250))), ['sendAdvert', 'releaseVips', 'notify']);
  });

  it('breaks a priority tie on the numerically higher primary address', () => {
    // "192.0.2.10" sorts before "192.0.2.9" as text; as a number it is higher
    const low = master({ address: '192.0.2.9' });
    assert.deepEqual(types(low.at(10_500, advert('192.0.2.10', 200))), ['releaseVips', 'notify']);
    assert.equal(low.state.current, 'Backup');
    const high = master({ address: '192.0.2.10' });
    assert.deepEqual(types(high.at(10_500, advert('192.0.2.9', 200))), ['sendAdvert', 'reannounce']);
    assert.equal(high.state.current, 'Master');
    const v6 = master({ version: 3, address: '2001:db8::9' });
    v6.at(10_500, advert('2001:db8::10', 200));
    assert.equal(v6.state.current, 'Backup');
  });

  it('ignores its own adverts looped back', () => {
    const m = master();
    assert.deepEqual(m.at(10_500, advert(LB1, 200)), []);
    assert.deepEqual(m.at(10_600, advert(LB1, 20)), []);
    m.at(10_700, { type: 'stop' });
    assert.deepEqual(m.at(10_700.5, advert(LB1, 200)), []); // not a successor
    assert.equal(m.state.current, 'Stopping');
  });

  it('wins a contested election against a lower priority: advert at once and re-announce', () => {
    const m = master();
    assert.deepEqual(m.at(10_500, advert(LB2, 100)), [
      { type: 'sendAdvert', priority: 200 },
      { type: 'reannounce' },
    ]);
    assert.equal(m.state.current, 'Master');
    assert.equal(m.deadline, 11_500);
  });

  it('stays silent to a lower priority with lower_prio_no_advert, still re-announcing', () => {
    const m = master({ lowerPrioNoAdvert: true });
    m.advance(10_500);
    const due = m.deadline;
    assert.deepEqual(m.at(10_500, advert(LB2, 100)), [{ type: 'reannounce' }]);
    assert.equal(m.deadline, due);
  });

  it('under vrrp_strict: the owner ignores every advert, others do not re-announce', () => {
    const owner = master({ priority: 255, ownerIgnoreAdverts: true, lowerPrioNoAdvert: true });
    assert.deepEqual(owner.at(10_500, advert('192.0.2.200', 255)), []);
    assert.equal(owner.state.current, 'Master');
    const strict = master({ lowerPrioNoAdvert: true, reannounceOnLowerPriority: false });
    assert.deepEqual(strict.at(10_500, advert(LB2, 100)), []);
  });

  it('waits for the better peer after its priority drops', () => {
    const m = master();
    assert.deepEqual(m.at(10_500, { type: 'priority', priority: 50 }), []);
    assert.equal(m.state.current, 'Master');
    assert.deepEqual(m.at(m.deadline ?? 0, { type: 'timer' }), [{ type: 'sendAdvert', priority: 50 }]);
    m.at(14_000, advert(LB2, 100));
    assert.equal(m.state.current, 'Backup');
  });
});

describe('Fault', () => {
  it('takes a backup out and brings it back with a fresh master-down timer', () => {
    const m = machine(config());
    m.at(0, { type: 'start' });
    assert.deepEqual(m.at(1000, { type: 'fault', reason: 'link' }), [
      { type: 'notify', from: 'Backup', to: 'Fault', reason: 'fault' },
    ]);
    assert.equal(m.deadline, undefined);
    assert.deepEqual(m.at(2000, advert(LB1, 0)), []);
    m.at(3000, { type: 'fault', reason: 'chk_haproxy' });
    assert.deepEqual(m.at(4000, { type: 'faultCleared', reason: 'link' }), []);
    assert.equal(m.state.current, 'Fault');
    assert.deepEqual(m.at(5000, { type: 'faultCleared', reason: 'chk_haproxy' }), [
      { type: 'notify', from: 'Fault', to: 'Backup', reason: 'fault-cleared' },
    ]);
    assert.equal(m.deadline, 5000 + 3609.375);
  });

  it('makes a master resign with priority 0 and drop its VIPs', () => {
    const m = master();
    assert.deepEqual(m.at(10_500, { type: 'fault', reason: 'link' }), [
      { type: 'sendAdvert', priority: 0 },
      { type: 'releaseVips' },
      { type: 'notify', from: 'Master', to: 'Fault', reason: 'fault' },
    ]);
    assert.equal(m.state.vipsHeld, false);
    assert.equal(m.deadline, undefined);
  });

  it('starts in Fault when a fault is already known', () => {
    const m = machine(config());
    m.at(0, { type: 'fault', reason: 'link' });
    assert.deepEqual(m.at(0, { type: 'start' }), [
      { type: 'notify', from: 'Initialize', to: 'Fault', reason: 'start' },
    ]);
  });
});

describe('Shutdown', () => {
  it('stops a backup or a faulted instance at once', () => {
    const b = machine(config());
    b.at(0, { type: 'start' });
    assert.deepEqual(types(b.at(100, { type: 'stop' })), ['notify', 'stopped']);
    assert.equal(b.state.current, 'Initialize');
    assert.equal(b.deadline, undefined);
    const f = machine(config());
    f.at(0, { type: 'start' });
    f.at(1, { type: 'fault', reason: 'link' });
    assert.deepEqual(types(f.at(100, { type: 'stop' })), ['notify', 'stopped']);
  });

  it('keeps a stopping master’s VIPs until the new master is heard', () => {
    const m = master();
    assert.deepEqual(m.at(10_500, { type: 'stop' }), [
      { type: 'sendAdvert', priority: 0 },
      { type: 'notify', from: 'Master', to: 'Stopping', reason: 'stop' },
    ]);
    assert.equal(m.state.vipsHeld, true);
    assert.equal(m.deadline, 10_500 + 2996.09375);
    assert.deepEqual(m.at(10_800, advert(LB2, 0)), []); // not a successor
    assert.deepEqual(m.at(11_109.375, advert(LB2, 100)), [
      { type: 'releaseVips' },
      { type: 'notify', from: 'Stopping', to: 'Initialize', reason: 'successor-heard' },
      { type: 'stopped' },
    ]);
    assert.equal(m.deadline, undefined);
  });

  it('releases the VIPs at the bound when nobody answers', () => {
    const m = master();
    m.at(10_500, { type: 'stop' });
    m.advance(20_000);
    assert.equal(m.when('releaseVips'), 10_500 + 996.09375 + 2000);
    assert.equal(m.when('stopped'), 13_496.09375);
    assert.equal(m.state.current, 'Initialize');
  });

  it('releases at once when a fault strikes while stopping', () => {
    const m = master();
    m.at(10_500, { type: 'stop' });
    assert.deepEqual(types(m.at(10_600, { type: 'fault', reason: 'link' })), [
      'releaseVips',
      'notify',
      'stopped',
    ]);
  });
});

describe('Sync group transitions', () => {
  it('forces a backup to master and a master to backup (without priority 0)', () => {
    const m = machine(config());
    m.at(0, { type: 'start' });
    assert.deepEqual(types(m.at(10, { type: 'syncMaster' })), ['sendAdvert', 'becomeMaster', 'notify']);
    assert.equal(m.state.current, 'Master');
    assert.deepEqual(m.at(20, { type: 'syncBackup' }), [
      { type: 'releaseVips' },
      { type: 'notify', from: 'Master', to: 'Backup', reason: 'sync-group' },
    ]);
    assert.equal(m.deadline, 20 + 3609.375);
  });
});

// --- two machines on a fake link -------------------------------------------------------

interface Node {
  name: string;
  state: MachineState;
  deadline: number | undefined;
  alive: boolean;
}
interface Sent {
  at: number;
  node: string;
  action: VrrpAction;
}

/**
 * Machines exchanging adverts over a link with `latency`; `lose(from, to)` drops frames.
 * `script` events happen at their times ('kill' = SIGKILL: silence, no actions).
 */
function link(
  cfgs: Record<string, MachineConfig>,
  script: Array<[number, string, VrrpEvent | 'kill']>,
  until: number,
  lose: (from: string, to: string, at: number) => boolean = () => false,
  latency = 0.125, // exact in binary, so sums compare equal
): Sent[] {
  const nodes = Object.entries(cfgs).map(
    ([name, c]): Node => ({ name, state: initialMachineState(c, 0), deadline: undefined, alive: true }),
  );
  const queue: Array<[number, string, VrrpEvent | 'kill']> = [...script];
  const log: Sent[] = [];
  for (;;) {
    queue.sort((a, b) => a[0] - b[0]);
    const timers = nodes.filter((n) => n.alive && n.deadline !== undefined);
    const nextTimer = Math.min(...timers.map((n) => n.deadline ?? Number.POSITIVE_INFINITY));
    const nextEvent = queue[0]?.[0] ?? Number.POSITIVE_INFINITY;
    const t = Math.min(nextTimer, nextEvent);
    if (t > until) return log;
    let node: Node | undefined;
    let event: VrrpEvent | 'kill';
    if (nextTimer <= nextEvent) {
      node = timers.find((n) => n.deadline === t);
      event = { type: 'timer' };
    } else {
      const [, name, ev] = queue.shift() ?? [0, '', 'kill'];
      node = nodes.find((n) => n.name === name);
      event = ev;
    }
    if (!node?.alive) continue;
    if (event === 'kill') {
      node.alive = false;
      continue;
    }
    const r = step(node.state, event, t);
    node.state = r.state;
    node.deadline = r.nextDeadline;
    for (const action of r.actions) {
      log.push({ at: t, node: node.name, action });
      if (action.type !== 'sendAdvert') continue;
      for (const peer of nodes) {
        if (peer === node || lose(node.name, peer.name, t)) continue;
        const c = node.state.config;
        queue.push([t + latency, peer.name, advert(c.address, action.priority, c.advertIntervalMs)]);
      }
    }
  }
}

const first = (log: Sent[], node: string, type: VrrpAction['type'], after = 0): number | undefined =>
  log.find((l) => l.node === node && l.action.type === type && l.at >= after)?.at;

describe('two machines on one link (the shared keepalived captures)', () => {
  const cfgs = {
    lb1: config({ priority: 110, initialState: 'MASTER', address: LB1 }),
    lb2: config({ priority: 100, address: LB2 }),
  };
  const start: Array<[number, string, VrrpEvent | 'kill']> = [
    [0, 'lb1', { type: 'start' }],
    [0, 'lb2', { type: 'start' }],
  ];

  it('elects lb1, and lb2 takes over 3.609375 s after lb1’s last advert when lb1 dies', () => {
    const log = link(cfgs, [...start, [5500, 'lb1', 'kill']], 20_000);
    assert.equal(first(log, 'lb1', 'becomeMaster'), 1003.90625);
    assert.equal(first(log, 'lb2', 'becomeMaster'), 5003.90625 + 0.125 + 3609.375);
  });

  it('hands over make-before-break on stop: lb1 keeps the VIPs until it hears lb2', () => {
    const log = link(cfgs, [...start, [5500, 'lb1', { type: 'stop' }]], 20_000);
    const taken = first(log, 'lb2', 'becomeMaster') ?? Number.NaN;
    assert.equal(taken, 5500 + 0.125 + 609.375); // the prio0 capture: 0.609 s
    assert.equal(first(log, 'lb1', 'releaseVips'), taken + 0.125);
    assert.ok((first(log, 'lb1', 'stopped') ?? 0) > taken);
  });

  it('bounds the hand-over when lb2’s answer never reaches lb1', () => {
    const lost = (from: string, to: string) => from === 'lb2' && to === 'lb1';
    const log = link(cfgs, [...start, [5500, 'lb1', { type: 'stop' }]], 20_000, lost);
    assert.equal(first(log, 'lb2', 'becomeMaster'), 6109.5);
    assert.equal(first(log, 'lb1', 'releaseVips'), 5500 + releaseBoundMs(2, 1000));
  });

  it('heals a split brain: the lower-priority master yields, the winner re-announces', () => {
    // the link is cut until 7.5 s: both become master meanwhile
    const log = link(cfgs, start, 12_000, (_from, _to, at) => at < 7500);
    assert.equal(first(log, 'lb2', 'becomeMaster'), 3609.375);
    // lb2's advert of 7609.375 is the first to cross: lb1 answers and re-announces, lb2 yields
    assert.deepEqual(
      log.filter((l) => l.at > 7500).map((l) => [l.at, l.node, l.action.type]),
      [
        [7609.375, 'lb2', 'sendAdvert'],
        [7609.5, 'lb1', 'sendAdvert'],
        [7609.5, 'lb1', 'reannounce'],
        [7609.625, 'lb2', 'releaseVips'],
        [7609.625, 'lb2', 'notify'],
        ...[8609.5, 9609.5, 10_609.5, 11_609.5].map((t) => [t, 'lb1', 'sendAdvert']),
      ],
    );
  });
});

// --- properties ----------------------------------------------------------------------------

const ADDRESSES = [LB1, LB2, '192.0.2.9', '192.0.2.10', '192.0.2.200'];

const arbConfig: fc.Arbitrary<MachineConfig> = fc.record({
  version: fc.constantFrom<2 | 3>(2, 3),
  priority: fc.oneof(fc.integer({ min: 1, max: 255 }), fc.constantFrom(100, 255)),
  advertIntervalMs: fc.constantFrom(10, 100, 1000, 3000),
  preempt: fc.boolean(),
  preemptDelayMs: fc.constantFrom(0, 0, 500, 5000),
  initialState: fc.constantFrom<'MASTER' | 'BACKUP'>('MASTER', 'BACKUP'),
  address: fc.constantFrom(...ADDRESSES),
  lowerPrioNoAdvert: fc.boolean(),
  higherPrioSendAdvert: fc.boolean(),
  ownerIgnoreAdverts: fc.boolean(),
  reannounceOnLowerPriority: fc.boolean(),
});

// Weighted so that runs spend their time in Backup and Master rather than stopped.
const arbEvent: fc.Arbitrary<VrrpEvent> = fc.oneof(
  { arbitrary: fc.constant<VrrpEvent>({ type: 'start' }), weight: 2 },
  { arbitrary: fc.constant<VrrpEvent>({ type: 'stop' }), weight: 1 },
  { arbitrary: fc.constant<VrrpEvent>({ type: 'timer' }), weight: 3 },
  {
    arbitrary: fc.record({
      type: fc.constant('advert' as const),
      srcAddr: fc.constantFrom(...ADDRESSES, 'not-an-address'),
      priority: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 100, 255, -1, 300)),
      intervalMs: fc.constantFrom(0, 10, 100, 1000, 3000, Number.NaN),
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('priority' as const),
      priority: fc.integer({ min: -50, max: 400 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ type: fc.constant('fault' as const), reason: fc.constantFrom('link', 'script') }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('faultCleared' as const),
      reason: fc.constantFrom('link', 'script'),
    }),
    weight: 2,
  },
  { arbitrary: fc.constant<VrrpEvent>({ type: 'syncMaster' }), weight: 1 },
  { arbitrary: fc.constant<VrrpEvent>({ type: 'syncBackup' }), weight: 1 },
);

/** How the clock moves before an event: a jump, exactly to the machine's deadline, or just short of it. */
const arbTick = fc.oneof(
  fc.double({ min: 0, max: 6000, noNaN: true }),
  fc.constantFrom('deadline' as const, 'justBefore' as const),
);

function advanceClock(
  now: number,
  deadline: number | undefined,
  tick: number | 'deadline' | 'justBefore',
): number {
  if (typeof tick === 'number') return now + tick;
  if (deadline === undefined) return now;
  return Math.max(now, tick === 'deadline' ? deadline : deadline - 1);
}

describe('state machine properties', () => {
  it('never throws, stays in a known state, never asks for the past, never drops VIPs silently', () => {
    fc.assert(
      fc.property(arbConfig, fc.array(fc.tuple(arbTick, arbEvent), { maxLength: 80 }), (cfg, run) => {
        let s = initialMachineState(cfg, 0);
        let deadline: number | undefined;
        let now = 0;
        let held = false;
        for (const [tick, event] of run) {
          now = advanceClock(now, deadline, tick);
          const before: VrrpStateName = s.current;
          const r = step(s, event, now);
          s = r.state;
          deadline = r.nextDeadline;
          assert.ok(VRRP_STATE_NAMES.includes(s.current));
          assert.ok(deadline === undefined || deadline >= now, `deadline ${deadline} before ${now}`);
          assert.ok(s.priority >= 1 && s.priority <= 255);
          // notifications chain from the old state to the new one
          const hops = r.actions.flatMap((a) => (a.type === 'notify' ? [a] : []));
          let at: VrrpStateName = before;
          for (const h of hops) {
            assert.equal(h.from, at);
            assert.notEqual(h.to, h.from);
            at = h.to;
          }
          assert.equal(at, s.current);
          // VIPs come and go only with becomeMaster / releaseVips, and go only while leaving Master or Stopping
          for (const a of r.actions) {
            if (a.type === 'becomeMaster') {
              assert.equal(held, false);
              held = true;
            }
            if (a.type === 'releaseVips') {
              assert.equal(held, true);
              assert.ok(
                hops.some((h) => (h.from === 'Master' || h.from === 'Stopping') && h.to !== 'Master'),
              );
              held = false;
            }
            if (a.type === 'sendAdvert') assert.ok(a.priority >= 0 && a.priority <= 255);
          }
          assert.equal(s.vipsHeld, held);
          assert.equal(held, s.current === 'Master' || s.current === 'Stopping');
          assert.equal(s.current === 'Fault', s.faults.length > 0 && s.current !== 'Initialize');
        }
      }),
      { numRuns: 400 },
    );
  });
});
