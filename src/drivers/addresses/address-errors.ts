import type { AddressError } from './address-driver.ts';
import type { CheckedVip } from './vip.ts';

// The messages for what the kernel refuses, shared by the real driver and the fake so
// that the layers above see the same values from both.

export function noInterface(v: CheckedVip): AddressError {
  return {
    code: 'no-such-interface',
    message: `cannot add ${v.key} to interface ${v.dev}: there is no such interface on this node; create it or fix the instance's interface`,
  };
}

/** `detail`: what the kernel said when it gave no errno name (a timeout, a send failure). */
export function kernelError(
  v: CheckedVip,
  op: 'add' | 'remove',
  errno: string | undefined,
  detail: string,
): AddressError {
  const what = op === 'add' ? `add ${v.key} to ${v.dev}` : `remove ${v.key} from ${v.dev}`;
  // EACCES to an IPv6 address is not about privileges (that is EPERM): IPv6 is off on the link.
  if (errno === 'EACCES' && op === 'add' && v.family === 6)
    return {
      code: 'kernel',
      errno,
      message: `cannot ${what}: the kernel refused (EACCES): IPv6 is switched off on ${v.dev} (net.ipv6.conf.${v.dev}.disable_ipv6 = 1); switch it on (sysctl -w net.ipv6.conf.${v.dev}.disable_ipv6=0) or remove the IPv6 VIP`,
    };
  if (errno === 'EPERM' || errno === 'EACCES')
    return {
      code: 'not-permitted',
      errno,
      message: `cannot ${what}: not permitted (${errno}); the agent needs CAP_NET_ADMIN (run it as root or grant the capability)`,
    };
  if (errno === 'ENODEV')
    return {
      code: 'no-such-interface',
      errno,
      message: `cannot ${what}: interface ${v.dev} disappeared; create it or fix the instance's interface`,
    };
  const reason = errno ?? detail;
  return {
    code: 'kernel',
    message: `cannot ${what}: the kernel refused (${reason}); check the address, prefix, scope and broadcast`,
    ...(errno ? { errno } : {}),
  };
}

export function conflict(v: CheckedVip, present: string): AddressError {
  return {
    code: 'address-conflict',
    errno: 'EEXIST',
    message: `cannot add ${v.key} to ${v.dev}: ${present} is already there with another prefix (the kernel keeps one prefix per IPv6 address); remove it first or fix the VIP's prefix`,
  };
}
