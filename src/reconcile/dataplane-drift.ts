import { canonicalContent, serviceFingerprint } from '../drivers/dataplane/content-canonical.ts';
import type { DataplaneContent, DataplaneKind, Service } from '../drivers/dataplane/dataplane.ts';
import { prepareForNftables } from '../drivers/dataplane/nft-refusals.ts';
import type { DriftObservation } from './drift-tracker.ts';

// Dataplane drift: the content the reconciler last gave the dataplane against what the
// kernel holds now, service by service (matched by the virtual server's key). Both sides
// are brought to the one written form the drivers read back in, the way the dataplane at
// hand writes it (nftables keeps persistence granularity as a netmask), so that only a
// real difference shows.

const MAX_TEXT = 200;

/** One item per service that is missing, extra, or not the same. */
export function dataplaneDrift(
  kind: DataplaneKind,
  desired: DataplaneContent,
  live: DataplaneContent,
): DriftObservation[] {
  const want = byKey(normalised(kind, desired));
  const have = byKey(canonicalContent(live).services);
  const out: DriftObservation[] = [];
  for (const [key, w] of want) {
    const h = have.get(key);
    if (h === undefined) out.push(item(key, present(w), 'absent'));
    else if (serviceFingerprint(w) !== serviceFingerprint(h)) {
      const [expected, actual] = difference(w, h);
      out.push(item(key, expected, actual));
    }
  }
  for (const [key, h] of have) if (!want.has(key)) out.push(item(key, 'absent', present(h)));
  return out;
}

function normalised(kind: DataplaneKind, c: DataplaneContent): Service[] {
  if (kind === 'nftables') {
    const p = prepareForNftables(c);
    if (p.ok) return p.services;
  }
  return canonicalContent(c).services;
}

function byKey(services: readonly Service[]): Map<string, Service> {
  return new Map(services.map((s) => [s.key, s]));
}

function item(key: string, expected: string, actual: string): DriftObservation {
  return { kind: 'dataplane', subject: `service ${key}`, expected: clip(expected), actual: clip(actual) };
}

const destinations = (s: Service) =>
  s.destinations.length === 0
    ? 'no real servers'
    : s.destinations.map((d) => `${hostPort(d.address, d.port)} w${d.weight}`).join(', ');

const present = (s: Service) => `present: ${s.scheduler}, ${destinations(s)}`;

/** The fields that differ, each side in a few words. */
function difference(want: Service, have: Service): [string, string] {
  const fields: [string, (s: Service) => string][] = [
    [
      'scheduler',
      (s) => `scheduler ${s.scheduler}${s.schedulerFlags ? ` ${s.schedulerFlags.join(',')}` : ''}`,
    ],
    [
      'persistence',
      (s) => (s.persistence ? `persistence ${s.persistence.timeoutMs / 1000}s` : 'no persistence'),
    ],
    [
      'sourceNat',
      (s) =>
        s.sourceNat === undefined
          ? 'no source NAT'
          : s.sourceNat === 'masquerade'
            ? 'masquerade'
            : `source NAT ${s.sourceNat.address}`,
    ],
    ['destinations', destinations],
    ['forwarding', (s) => [...new Set(s.destinations.map((d) => d.forwarding))].join(',')],
  ];
  const w: string[] = [];
  const h: string[] = [];
  for (const [, text] of fields) {
    const a = text(want);
    const b = text(have);
    if (a !== b) {
      w.push(a);
      h.push(b);
    }
  }
  // Something the texts above do not show (an address, a port, a granularity).
  if (w.length === 0) return [serviceFingerprint(want), serviceFingerprint(have)];
  return [w.join('; '), h.join('; ')];
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function clip(text: string): string {
  return text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`;
}
