import type { Rule } from '../src/policy/rule.ts';
import { authPassV2Only } from './auth-pass-v2-only.ts';
import { checkTimeoutWithinInterval } from './check-timeout-within-interval.ts';
import { noPlaintextSecret } from './no-plaintext-secret.ts';
import { nopreemptInitialBackup } from './nopreempt-initial-backup.ts';
import { preemptDelayNeedsPreempt } from './preempt-delay-needs-preempt.ts';
import { priority255Owner } from './priority-255-owner.ts';
import { priorityDistinct } from './priority-distinct.ts';
import { realServerUnique } from './real-server-unique.ts';
import { strictModeConflicts } from './strict-mode-conflicts.ts';
import { syncGroupTrackWeight } from './sync-group-track-weight.ts';
import { v2WholeSecondInterval } from './v2-whole-second-interval.ts';
import { vipNotNodeAddress } from './vip-not-node-address.ts';
import { vridUnique } from './vrid-unique.ts';
import { vsAddressCovered } from './vs-address-covered.ts';

// The rules every revision must pass unless its policies/*.yaml say otherwise. Mixed VIP
// families are not here: the loader already refuses them.

export const builtinRules: readonly Rule[] = [
  vridUnique,
  vipNotNodeAddress,
  priorityDistinct,
  priority255Owner,
  noPlaintextSecret,
  v2WholeSecondInterval,
  checkTimeoutWithinInterval,
  realServerUnique,
  vsAddressCovered,
  authPassV2Only,
  preemptDelayNeedsPreempt,
  nopreemptInitialBackup,
  syncGroupTrackWeight,
  strictModeConflicts,
];
