import type { IpvsCommand } from './encode-ipvs.ts';
import {
  destIdKey,
  destIdOf,
  type IpvsDest,
  type IpvsEntry,
  type IpvsService,
  serviceIdKey,
  serviceIdOf,
} from './ipvs-records.ts';

// The IPVS half of an apply, as a pure function: what keepgit owns now and what it should
// own become an ordered list of kernel commands, each with the commands that undo it.
// IPVS has no transactions, so this order is what keeps traffic flowing while it runs:
//   1. new services, each followed by its destinations
//   2. new destinations of services that stay
//   3. services edited in place (scheduler, flags, persistence: SET_SERVICE keeps conns)
//   4. destinations edited in place (weight, forwarding: SET_DEST keeps connections)
//   5. destinations that go
//   6. services that go (the kernel drops their destinations with them)
// so a real server is replaced by adding the new one before removing the old, and a
// virtual server that moves to a new address answers there before the old one goes.

export interface OwnedEntry extends IpvsEntry {
  /** The virtual server's key (for messages and for what keepgit remembers owning). */
  key: string;
}

export interface IpvsStep {
  /** The virtual server the step belongs to. */
  key: string;
  do: IpvsCommand;
  /** Run in this order to take `do` back (after `do` succeeded). */
  undo: IpvsCommand[];
}

export interface IpvsPlan {
  steps: IpvsStep[];
  /** Keys of the virtual servers added, changed and removed. */
  added: string[];
  changed: string[];
  removed: string[];
}

function sameService(a: IpvsService, b: IpvsService): boolean {
  return (
    a.scheduler === b.scheduler &&
    a.flags === b.flags &&
    a.timeout === b.timeout &&
    a.netmask === b.netmask &&
    a.peName === b.peName
  );
}

function sameDest(a: IpvsDest, b: IpvsDest): boolean {
  return (
    a.fwdMethod === b.fwdMethod &&
    a.weight === b.weight &&
    a.uThreshold === b.uThreshold &&
    a.lThreshold === b.lThreshold
  );
}

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, T> {
  return new Map([...items].sort((x, y) => cmp(key(x), key(y))).map((t) => [key(t), t]));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The steps that turn `live` (what keepgit owns in the kernel now) into `desired`.
 * Each list must name every service once (the caller refuses duplicates).
 */
export function planIpvsApply(live: readonly OwnedEntry[], desired: readonly OwnedEntry[]): IpvsPlan {
  const was = byKey(live, (e) => serviceIdKey(e.service));
  const want = byKey(desired, (e) => serviceIdKey(e.service));
  const phases: IpvsStep[][] = [[], [], [], [], [], []];
  const [adds, newDests, setServices, setDests, delDests, delServices] = phases as [
    IpvsStep[],
    IpvsStep[],
    IpvsStep[],
    IpvsStep[],
    IpvsStep[],
    IpvsStep[],
  ];
  const added: string[] = [];
  const changed = new Set<string>();
  const removed: string[] = [];

  for (const [id, w] of want) {
    const l = was.get(id);
    const sid = serviceIdOf(w.service);
    if (l === undefined) {
      added.push(w.key);
      adds.push({
        key: w.key,
        do: { op: 'new-service', service: w.service },
        undo: [{ op: 'del-service', service: sid }],
      });
      for (const d of byKey(w.dests, destIdKey).values())
        adds.push({
          key: w.key,
          do: { op: 'new-dest', service: sid, dest: d },
          undo: [{ op: 'del-dest', service: sid, dest: destIdOf(d) }],
        });
      continue;
    }
    const liveDests = byKey(l.dests, destIdKey);
    const wantDests = byKey(w.dests, destIdKey);
    const before = newDests.length + setServices.length + setDests.length + delDests.length;
    for (const [k, d] of wantDests) {
      const old = liveDests.get(k);
      if (old === undefined)
        newDests.push({
          key: w.key,
          do: { op: 'new-dest', service: sid, dest: d },
          undo: [{ op: 'del-dest', service: sid, dest: destIdOf(d) }],
        });
      else if (!sameDest(old, d))
        setDests.push({
          key: w.key,
          do: { op: 'set-dest', service: sid, dest: d },
          undo: [{ op: 'set-dest', service: sid, dest: old }],
        });
    }
    if (!sameService(l.service, w.service))
      setServices.push({
        key: w.key,
        do: { op: 'set-service', service: w.service },
        undo: [{ op: 'set-service', service: l.service }],
      });
    for (const [k, old] of liveDests)
      if (!wantDests.has(k))
        delDests.push({
          key: w.key,
          do: { op: 'del-dest', service: sid, dest: destIdOf(old) },
          undo: [{ op: 'new-dest', service: sid, dest: old }],
        });
    if (newDests.length + setServices.length + setDests.length + delDests.length > before) changed.add(w.key);
  }

  for (const [id, l] of was) {
    if (want.has(id)) continue;
    removed.push(l.key);
    const sid = serviceIdOf(l.service);
    delServices.push({
      key: l.key,
      do: { op: 'del-service', service: sid },
      undo: [
        { op: 'new-service', service: l.service },
        ...[...byKey(l.dests, destIdKey).values()].map(
          (d): IpvsCommand => ({ op: 'new-dest', service: sid, dest: d }),
        ),
      ],
    });
  }

  return { steps: phases.flat(), added, changed: [...changed], removed };
}
