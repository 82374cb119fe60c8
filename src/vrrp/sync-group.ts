import type { InstanceTransition } from './instance.ts';
import type { Log } from './instance-log.ts';
import type { VrrpStateName } from './state-machine.ts';

// A vrrp_sync_group: instances that must be master on the same node, e.g. the outside VIP
// and the inside gateway of a NAT pair. keepalived's rules, which we keep:
// - a member that becomes master takes the others with it (syncMaster);
// - a master that yields to a better peer takes the others back to backup (syncBackup);
// - a member in fault puts every other member in fault, and they leave it together.
// Moves the group makes itself carry the reason "sync-group" and are not propagated again,
// so one event moves each member once.
//
// The group does not own its members: the agent tells it of each member's transitions and
// of each change to a member's own faults (link, trackers), and the group answers with
// calls on the other members.

export interface SyncMember {
  readonly name: string;
  state(): VrrpStateName;
  syncMaster(): void;
  syncBackup(): void;
  fault(reason: string): void;
  clearFault(reason: string): void;
}

export type GroupState = 'Master' | 'Backup' | 'Fault' | 'Initialize';

export interface SyncGroup {
  readonly name: string;
  /** A member changed state (the agent's onTransition). */
  transition(member: string, t: InstanceTransition): void;
  /** A member's own faults changed: `faulty` is whether it has any besides the group's. */
  ownFault(member: string, faulty: boolean): void;
  state(): GroupState;
}

export interface SyncGroupHooks {
  log: Log;
  /** The group as a whole changed state: for the group's notify scripts. */
  onGroupState?: (state: GroupState, cause: { member: string; reason: string }) => void;
}

/** The fault reason a member carries while another member of its group is in fault. */
export const syncFaultReason = (group: string): string => `sync-group:${group}`;

export function createSyncGroup(
  name: string,
  members: readonly SyncMember[],
  hooks: SyncGroupHooks,
): SyncGroup {
  const reason = syncFaultReason(name);
  const faulty = new Set<string>();
  /** The members we have put in fault on the group's account. */
  const held = new Set<string>();
  let groupState: GroupState = 'Initialize';

  const setGroupState = (next: GroupState, member: string, why: string) => {
    if (next === groupState) return;
    groupState = next;
    hooks.log({ level: 'info', event: 'sync-group', reason: name, to: next, member, message: why });
    hooks.onGroupState?.(next, { member, reason: why });
  };

  // Every member but the faulty ones themselves carries the group's fault while any member
  // has one of its own; a faulty member also carries it when another is faulty, so that it
  // cannot leave Fault alone when its own clears.
  const settleFaults = (cause: string) => {
    for (const m of members) {
      const others = [...faulty].some((f) => f !== m.name);
      if (others && !held.has(m.name)) {
        held.add(m.name);
        m.fault(reason);
      }
    }
    for (const m of members) {
      const others = [...faulty].some((f) => f !== m.name);
      if (!others && held.has(m.name)) {
        held.delete(m.name);
        m.clearFault(reason);
      }
    }
    if (faulty.size > 0) setGroupState('Fault', cause, `${cause} is in fault`);
  };

  return {
    name,
    state: () => groupState,
    ownFault: (member, isFaulty) => {
      if (isFaulty === faulty.has(member)) return;
      if (isFaulty) faulty.add(member);
      else faulty.delete(member);
      settleFaults(member);
    },
    transition: (member, t) => {
      if (t.reason === 'sync-group') return;
      if (t.to === 'Master') {
        setGroupState('Master', member, `${member} became master (${t.reason})`);
        for (const m of members) if (m.name !== member && m.state() === 'Backup') m.syncMaster();
      } else if (t.to === 'Backup' && t.from === 'Master') {
        setGroupState('Backup', member, `${member} left master (${t.reason})`);
        for (const m of members) if (m.name !== member && m.state() === 'Master') m.syncBackup();
      } else if (t.to === 'Backup' && faulty.size === 0) {
        const anyMaster = members.some((m) => m.state() === 'Master');
        if (!anyMaster) setGroupState('Backup', member, `${member} is backup (${t.reason})`);
      } else if (t.to === 'Initialize') {
        if (members.every((m) => m.name === member || m.state() === 'Initialize'))
          setGroupState('Initialize', member, 'every member stopped');
      }
    },
  };
}
