// The VRRP timer arithmetic, in milliseconds (fractions kept: a v2 priority-100 backup
// waits exactly 3609.375 ms, and rounding here would make us slower or faster than a
// keepalived peer in a way a capture can show).

export type VrrpVersion = 2 | 3;

/**
 * Skew_Time: lower priorities wait longer, so the best backup wins without a tie.
 * RFC 3768 (v2) fixes it in seconds whatever the interval; RFC 5798 (v3) scales it by the
 * interval the master advertises, so fast v3 instances also fail over fast.
 */
export function skewTimeMs(version: VrrpVersion, priority: number, masterAdverIntervalMs: number): number {
  const span = version === 2 ? 1000 : masterAdverIntervalMs;
  return ((256 - priority) * span) / 256;
}

/** Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time (RFC 5798 6.1, RFC 3768 6.1). */
export function masterDownIntervalMs(
  version: VrrpVersion,
  priority: number,
  masterAdverIntervalMs: number,
): number {
  return 3 * masterAdverIntervalMs + skewTimeMs(version, priority, masterAdverIntervalMs);
}

/**
 * How long a non-owner configured `state MASTER` waits before taking over. keepalived
 * (vrrp_init_state) lets one advert interval pass, to hear any live master, plus the
 * smallest skew (that of priority 255) instead of the full Master_Down_Interval.
 */
export function initialMasterWaitMs(version: VrrpVersion, advertIntervalMs: number): number {
  return advertIntervalMs + skewTimeMs(version, 255, advertIntervalMs);
}

/**
 * How long a stopping master keeps its VIPs when no successor answers its priority-0
 * advert: the longest skew any backup can have (priority 1) before it takes over, plus two
 * of its adverts, so that losing the successor's first advert does not drop the VIPs
 * while it is already taking over.
 */
export function releaseBoundMs(version: VrrpVersion, advertIntervalMs: number): number {
  return skewTimeMs(version, 1, advertIntervalMs) + 2 * advertIntervalMs;
}
