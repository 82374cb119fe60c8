import { constants } from 'node:os';
import type { IpvsCommand } from './encode-ipvs.ts';
import { describeDest, describeService } from './ipvs-records.ts';
import type { NlError } from './netlink-codec.ts';

// What the kernel's IPVS errnos mean, per command, in the words ipvsadm uses for them
// (libipvs' ipvs_strerror), plus what an operator can do about each.

export const NO_IPVS_MESSAGE =
  'kernel has no IPVS (family not registered); use dataplane: nftables, or load the module with `modprobe ip_vs` on a host that has it';

const NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}

const is = (errno: number, name: keyof typeof constants.errno) => constants.errno[name] === errno;

/** Why the kernel refused `c`, as one sentence naming the service and destination. */
export function commandError(c: IpvsCommand, e: NlError): string {
  const svc = describeService(c.service);
  const dest = 'dest' in c ? describeDest(c.dest) : '';
  const what = {
    'new-service': `add IPVS service ${svc}`,
    'set-service': `change IPVS service ${svc}`,
    'del-service': `delete IPVS service ${svc}`,
    'new-dest': `add real server ${dest} to IPVS service ${svc}`,
    'set-dest': `change real server ${dest} of IPVS service ${svc}`,
    'del-dest': `delete real server ${dest} from IPVS service ${svc}`,
  }[c.op];
  return `cannot ${what}: ${reason(c, e)}`;
}

function reason(c: IpvsCommand, e: NlError): string {
  const n = e.errno;
  const name = errnoName(n);
  const kernel = e.text ? ` (kernel: ${e.text})` : '';
  const service = c.op.endsWith('service');
  if (is(n, 'EPERM') || is(n, 'EACCES'))
    return `permission denied (${name}); the agent needs CAP_NET_ADMIN (run it as root or grant the capability)`;
  if (is(n, 'EEXIST'))
    return service
      ? `the service already exists (${name})${kernel}`
      : `the destination already exists (${name})${kernel}`;
  if (is(n, 'ESRCH')) return `no such service (${name})${kernel}`;
  if (is(n, 'ENOENT')) {
    if (c.op === 'new-service' || c.op === 'set-service') {
      const s = c.service;
      const sched = 'scheduler' in s ? s.scheduler : '';
      // The kernel loads ip_vs_<scheduler> itself when the module exists on the host.
      return `scheduler or persistence engine not found (${name}): this kernel has no module ip_vs_${sched}${kernel}; pick another scheduler, or install the module (check with modinfo ip_vs_${sched})`;
    }
    return `no such destination (${name})${kernel}`;
  }
  if (is(n, 'EINVAL'))
    return `invalid operation (${name})${kernel}: an address that is not unicast, a netmask or family the kernel refuses, or a mixed-family real server that is not forwarded by tun`;
  if (is(n, 'ERANGE')) return `a weight or threshold out of range (${name})${kernel}`;
  if (is(n, 'EPROTONOSUPPORT')) return `protocol not supported by IPVS (${name})${kernel}`;
  if (is(n, 'EAFNOSUPPORT') || is(n, 'EOPNOTSUPP'))
    return `address family not supported (${name})${kernel}: the kernel's IPVS lacks IPv6 (CONFIG_IP_VS_IPV6)`;
  if (is(n, 'ENOMEM')) return `the kernel is out of memory (${name})`;
  return `the kernel refused (${name})${kernel}`;
}
