// The shared keepalived fixtures as the importer takes them: pairs together, one node name each.
export const FIXTURE_SETS: Record<string, string>[] = [
  { lb1: 'basic-master.conf', lb2: 'basic-backup.conf' },
  { lb1: 'pair-eth1-master.conf', lb2: 'pair-eth1-backup.conf' },
  { lb1: 'rtr-master.conf', lb2: 'rtr-backup.conf' },
  { lb1: 'lvs-nat-sh-master.conf', lb2: 'lvs-nat-sh-backup.conf' },
  { lb1: 'tracking-master.conf' },
  { lb1: 'upstream-sample.conf' },
];
