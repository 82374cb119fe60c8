import { canonicalIp, ipFamily } from '../../model/ip.ts';
import { serviceId } from './content-canonical.ts';
import type { DataplaneContent, Destination, Service } from './dataplane.ts';

// Checks every dataplane owes its caller before it touches the kernel: the content must
// make sense whatever the kernel can do (addresses of the service's family, ports in
// range, no service or destination given twice). Each finding names the virtual server
// and the field, as the DataplaneError a user sees.

export interface Refusal {
  service: string;
  /** The field, relative to the service: "scheduler", "destinations[2].forwarding". */
  field: string;
  message: string;
}

export const MAX_WEIGHT = 0x7fffffff;
const isPort = (p: number) => Number.isInteger(p) && p >= 0 && p <= 65535;

const PROTOCOLS: ReadonlySet<string> = new Set(['TCP', 'UDP', 'SCTP']);
const FORWARDINGS: ReadonlySet<string> = new Set(['nat', 'dr', 'tun']);

export function checkService(s: Service): Refusal[] {
  const out: Refusal[] = [];
  const key = typeof s.key === 'string' ? s.key : String(s.key);
  const refuse = (field: string, message: string) => out.push({ service: key, field, message });
  if (typeof s.key !== 'string' || s.key === '') refuse('key', 'a service needs a non-empty key');
  if (s.family !== 4 && s.family !== 6) refuse('family', `family must be 4 or 6, got ${String(s.family)}`);
  if (!PROTOCOLS.has(s.protocol))
    refuse('protocol', `protocol must be TCP, UDP or SCTP, got ${String(s.protocol)}`);
  if (s.address === undefined && s.fwmark === undefined)
    refuse('address', 'a service needs an address (or a fwmark)');
  if (s.address !== undefined && ipFamily(s.address) !== s.family)
    refuse('address', `${s.address} is not an IPv${s.family} address`);
  if (s.fwmark !== undefined && !(Number.isInteger(s.fwmark) && s.fwmark > 0 && s.fwmark <= 0xffffffff))
    refuse('fwmark', `fwmark must be an integer from 1 to 4294967295, got ${s.fwmark}`);
  if (!isPort(s.port)) refuse('port', `port must be an integer from 0 to 65535, got ${s.port}`);
  if (typeof s.scheduler !== 'string' || s.scheduler === '')
    refuse('scheduler', 'a service needs a scheduler');
  if (s.persistence !== undefined) {
    const t = s.persistence.timeoutMs;
    if (!Number.isInteger(t) || t < 1 || t > MAX_WEIGHT)
      refuse(
        'persistence.timeoutMs',
        `persistence timeout must be a whole number of ms from 1 to ${MAX_WEIGHT}`,
      );
  }
  if (s.sourceNat !== undefined && s.sourceNat !== 'masquerade' && ipFamily(s.sourceNat.address) !== s.family)
    refuse('sourceNat.address', `${s.sourceNat.address} is not an IPv${s.family} address`);
  const dests: readonly Destination[] = Array.isArray(s.destinations) ? s.destinations : [];
  // "Given twice": a pairwise scan for the usual handful of real servers (no key strings
  // to build for each of 100,000), a set beyond that.
  const few = dests.length <= 32;
  const seen: (string | undefined)[] = [];
  const ids = few ? undefined : new Set<string>();
  for (let i = 0; i < dests.length; i++) {
    const d = dests[i];
    const at = `destinations[${i}]`;
    if (typeof d !== 'object' || d === null) {
      seen.push(undefined);
      refuse(at, 'a destination needs an address, port, weight and forwarding');
      continue;
    }
    const family = ipFamily(d.address);
    if (family !== s.family) refuse(`${at}.address`, `${d.address} is not an IPv${s.family} address`);
    if (!isPort(d.port)) refuse(`${at}.port`, `port must be an integer from 0 to 65535, got ${d.port}`);
    if (!Number.isInteger(d.weight) || d.weight < 0 || d.weight > MAX_WEIGHT)
      refuse(`${at}.weight`, `weight must be an integer from 0 to ${MAX_WEIGHT}, got ${d.weight}`);
    if (!FORWARDINGS.has(d.forwarding))
      refuse(`${at}.forwarding`, `forwarding must be nat, dr or tun, got ${String(d.forwarding)}`);
    const addr = family === undefined ? undefined : canonicalIp(d.address);
    seen.push(addr);
    if (addr === undefined) continue;
    let twice = false;
    if (ids === undefined)
      for (let j = 0; j < i && !twice; j++) twice = seen[j] === addr && dests[j]?.port === d.port;
    else {
      const id = `${addr}|${d.port}`;
      twice = ids.has(id);
      ids.add(id);
    }
    if (twice) refuse(at, `destination ${d.address} port ${d.port} is given twice`);
  }
  if (!Array.isArray(s.destinations)) refuse('destinations', 'destinations must be a list (it may be empty)');
  return out;
}

/** Findings across services: a service identity or key given twice. */
export function checkDuplicates(services: readonly Service[]): Refusal[] {
  const out: Refusal[] = [];
  const ids = new Map<string, string>();
  const keys = new Set<string>();
  for (const s of services) {
    if (s.address !== undefined && ipFamily(s.address) === undefined) continue;
    const id = serviceId(s);
    const other = ids.get(id);
    if (other !== undefined)
      out.push({
        service: s.key,
        field: 'address',
        message: `${s.protocol} ${s.address ?? `fwmark ${s.fwmark}`} port ${s.port} is also virtual server "${other}"`,
      });
    ids.set(id, s.key);
    if (keys.has(s.key)) out.push({ service: s.key, field: 'key', message: `key "${s.key}" is given twice` });
    keys.add(s.key);
  }
  return out;
}

/** Every finding about a content: each service's, then those across services. */
export function checkContent(c: DataplaneContent): Refusal[] {
  return [...c.services.flatMap(checkService), ...checkDuplicates(c.services)];
}

/** One message for a list of refusals (the first few in full). */
export function describeRefusals(refusals: readonly Refusal[]): string {
  const shown = refusals
    .slice(0, 5)
    .map((r) => `virtual server "${r.service}", ${r.field}: ${r.message}`)
    .join('; ');
  return refusals.length > 5 ? `${shown}; and ${refusals.length - 5} more` : shown;
}
