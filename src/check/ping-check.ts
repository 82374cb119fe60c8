import type { ProbeFn } from './check-types.ts';
import { createPinger, type Pinger } from './icmp-pinger.ts';
import { openRawIcmpSocket } from './icmp-socket.ts';

// PING_CHECK: one ICMP echo (ICMPv6 echo for an IPv6 target) per attempt. Up when the
// target answers with an echo reply before the timeout; down on silence, on an ICMP error
// quoting the request (host unreachable, time exceeded), or when the raw socket cannot be
// opened (no CAP_NET_RAW). The check has no options of its own: connectIp, bindTo, bindIf
// and the timings are the common ones.

export type PingSpec = Readonly<Record<string, unknown>>;

let shared: Pinger | undefined;

/** The process's pinger: its sockets are shared by every PING_CHECK, see icmp-pinger.ts. */
export function defaultPinger(): Pinger {
  shared ??= createPinger({ open: openRawIcmpSocket });
  return shared;
}

export const probePing: ProbeFn<PingSpec> = (_spec, target, ctx) => defaultPinger().ping(target, ctx);
