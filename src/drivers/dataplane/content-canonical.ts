import { canonicalIp } from '../../model/ip.ts';
import type { DataplaneContent, Destination, Service } from './dataplane.ts';

// One written form per meaning, so that "what the kernel holds" and "what the plan wants"
// compare as plain values: addresses in RFC 5952 text, destinations in address order, no
// empty optional fields. Every driver and the fake read and diff through this.

/** The identity the kernel knows a service by: family, protocol, address (or fwmark), port. */
export function serviceId(s: Pick<Service, 'family' | 'protocol' | 'address' | 'port' | 'fwmark'>): string {
  const where = s.address !== undefined ? canonicalIp(s.address) : `fwmark:${s.fwmark ?? 0}`;
  return `${s.family}|${s.protocol}|${where}|${s.port}`;
}

export function destinationId(d: Pick<Destination, 'address' | 'port'>): string {
  return `${canonicalIp(d.address)}|${d.port}`;
}

// Any fixed order will do (the kernel keeps none): canonical text, then port.
function compareDestinations(a: Destination, b: Destination): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port;
}

/** The canonical copy of a service (a new object; the input is not changed). */
export function canonicalService(s: Service): Service {
  const out: Service = {
    key: s.key,
    family: s.family,
    protocol: s.protocol,
    port: s.port,
    scheduler: s.scheduler,
    destinations: s.destinations
      .map((d) => ({
        address: canonicalIp(d.address),
        port: d.port,
        weight: d.weight,
        forwarding: d.forwarding,
      }))
      .sort(compareDestinations),
  };
  if (s.address !== undefined) out.address = canonicalIp(s.address);
  if (s.fwmark !== undefined) out.fwmark = s.fwmark;
  if (s.schedulerFlags && s.schedulerFlags.length > 0) out.schedulerFlags = [...s.schedulerFlags].sort();
  if (s.persistence) {
    out.persistence = { timeoutMs: s.persistence.timeoutMs };
    if (s.persistence.granularity !== undefined) out.persistence.granularity = s.persistence.granularity;
  }
  if (s.sourceNat !== undefined)
    out.sourceNat =
      s.sourceNat === 'masquerade' ? 'masquerade' : { address: canonicalIp(s.sourceNat.address) };
  return out;
}

/** Services in identity order (a new array). */
export function sortById(services: readonly Service[]): Service[] {
  return services
    .map((s) => ({ id: serviceId(s), s }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((x) => x.s);
}

/** Canonical services in identity order. */
export function canonicalContent(c: DataplaneContent): DataplaneContent {
  return { services: sortById(c.services.map(canonicalService)) };
}

/** A stable text of a canonical service: equal texts, equal services. */
export function serviceFingerprint(s: Service): string {
  return JSON.stringify(s, [
    'key',
    'family',
    'protocol',
    'address',
    'port',
    'fwmark',
    'scheduler',
    'schedulerFlags',
    'persistence',
    'timeoutMs',
    'granularity',
    'sourceNat',
    'destinations',
    'weight',
    'forwarding',
  ]);
}
