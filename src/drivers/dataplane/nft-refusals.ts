import { NFTABLES_SCHEDULERS } from '../../model/dataplane-support.ts';
import { canonicalService, serviceId } from './content-canonical.ts';
import { checkDuplicates, checkService, type Refusal } from './content-check.ts';
import type { DataplaneCapabilities, DataplaneContent, Service } from './dataplane.ts';

// What the nftables dataplane cannot do, refused before anything reaches the kernel, with
// the alternative. The same words as the model's nftablesUnsupported, so `keepgit
// validate` and the agent agree.

export const NFT_CAPABILITIES: DataplaneCapabilities = {
  kind: 'nftables',
  schedulers: NFTABLES_SCHEDULERS,
  forwarding: ['nat'],
  protocols: ['TCP', 'UDP', 'SCTP'],
  fwmark: false,
  persistence: true,
};

const SCHEDULERS = `${NFTABLES_SCHEDULERS.slice(0, -1).join(', ')} or ${NFTABLES_SCHEDULERS.at(-1)}`;
/** Element comments hold the key; the kernel keeps at most 128 characters. */
export const MAX_KEY_LENGTH = 128;

/** The prefix length of a persistence granularity (IPv4 netmask, or "/N" / "N"); undefined if invalid. */
export function granularityPrefix(granularity: string | undefined): number | undefined {
  if (granularity === undefined) return 32;
  const len = /^\/?(\d{1,2})$/.exec(granularity);
  if (len) {
    const n = Number(len[1]);
    return n >= 1 && n <= 32 ? n : undefined;
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(granularity);
  if (!m) return undefined;
  const value = m.slice(1).reduce((acc, o) => acc * 256 + Number(o), 0);
  if (m.slice(1).some((o) => Number(o) > 255)) return undefined;
  for (let n = 1; n <= 32; n++) if (value === prefixToMaskValue(n)) return n;
  return undefined;
}

const prefixToMaskValue = (n: number) => (0xffffffff - (2 ** (32 - n) - 1)) >>> 0;

export function prefixToNetmask(n: number): string {
  const v = prefixToMaskValue(n);
  return [24, 16, 8, 0].map((shift) => Math.floor(v / 2 ** shift) % 256).join('.');
}

export function nftRefusals(s: Service): Refusal[] {
  const out: Refusal[] = [];
  const refuse = (field: string, message: string) => out.push({ service: s.key, field, message });
  if (s.fwmark !== undefined)
    refuse('fwmark', 'fwmark services need IPVS; with nftables give an address and port');
  if (s.address === undefined && s.fwmark === undefined)
    refuse('address', 'nftables needs the service address');
  if (s.port === 0)
    refuse('port', 'port 0 (every port) needs IPVS; with nftables give one virtual server per port');
  if (!(NFTABLES_SCHEDULERS as readonly string[]).includes(s.scheduler))
    refuse('scheduler', `scheduler ${s.scheduler} needs IPVS; with nftables use ${SCHEDULERS}`);
  if (s.schedulerFlags && s.schedulerFlags.length > 0)
    refuse(
      'schedulerFlags',
      `scheduler flags (${s.schedulerFlags.join(', ')}) need IPVS; with nftables leave them out (sh hashes the client address only)`,
    );
  if (
    typeof s.key === 'string' &&
    (s.key.length > MAX_KEY_LENGTH || !/^[\x20-\x7e]*$/.test(s.key) || /["\\]/.test(s.key))
  )
    refuse(
      'key',
      `nftables keeps the key in an element comment: at most ${MAX_KEY_LENGTH} printable characters without " or \\`,
    );
  if (s.persistence !== undefined) {
    if (s.family === 6)
      refuse(
        'persistence',
        'persistence on an IPv6 virtual server needs IPVS: nft 1.0.6 cannot key a dynamic map by an IPv6 client and address (16-byte limit); with nftables use scheduler sh, which keeps a client on one real server while the set is unchanged',
      );
    else if (granularityPrefix(s.persistence.granularity) === undefined)
      refuse(
        'persistence.granularity',
        `granularity ${s.persistence.granularity} is not a netmask: give one such as 255.255.255.0 (or a prefix length, 24)`,
      );
  }
  for (const [i, d] of s.destinations.entries()) {
    if (typeof d !== 'object' || d === null) continue; // checkService refuses it
    if (d.forwarding !== 'nat')
      refuse(
        `destinations[${i}].forwarding`,
        `forwarding ${d.forwarding} (lb_kind ${String(d.forwarding).toUpperCase()}) needs IPVS; with nftables use forwarding nat`,
      );
    if (d.port === 0)
      refuse(`destinations[${i}].port`, 'nftables rewrites the port: give the real server port (1 to 65535)');
  }
  return out;
}

export type Prepared = { ok: true; services: Service[] } | { ok: false; refusals: Refusal[] };

/** One service as the nftables dataplane holds it (assumes it passed the checks). */
function nftCanonical(raw: Service): Service {
  const s = canonicalService(raw);
  if (s.persistence === undefined) return s;
  const prefix = granularityPrefix(s.persistence.granularity) ?? 32;
  const persistence: NonNullable<Service['persistence']> = { timeoutMs: s.persistence.timeoutMs };
  if (prefix < 32) persistence.granularity = prefixToNetmask(prefix);
  return { ...s, persistence };
}

/**
 * What the driver remembers between applies: per key, the service as given last time (a
 * copy, so that a caller changing its object in place is still seen) and its prepared form.
 */
export type PrepareCache = Map<string, { given: Service; prepared: Service; id: string }>;

/** Whether two services, as given, say the same (every field checking and preparing look at). */
export function sameGiven(a: Service, b: Service): boolean {
  if (
    a.key !== b.key ||
    a.family !== b.family ||
    a.protocol !== b.protocol ||
    a.address !== b.address ||
    a.port !== b.port ||
    a.fwmark !== b.fwmark ||
    a.scheduler !== b.scheduler
  )
    return false;
  const fa = a.schedulerFlags;
  const fb = b.schedulerFlags;
  if ((fa?.length ?? 0) !== (fb?.length ?? 0)) return false;
  if (fa && fb) for (let i = 0; i < fa.length; i++) if (fa[i] !== fb[i]) return false;
  const pa = a.persistence;
  const pb = b.persistence;
  if (pa !== pb && (!pa || !pb || pa.timeoutMs !== pb.timeoutMs || pa.granularity !== pb.granularity))
    return false;
  const na = a.sourceNat;
  const nb = b.sourceNat;
  if (
    na !== nb &&
    (typeof na !== 'object' || typeof nb !== 'object' || !na || !nb || na.address !== nb.address)
  )
    return false;
  const da = a.destinations;
  const db = b.destinations;
  if (!Array.isArray(da) || !Array.isArray(db) || da.length !== db.length) return false;
  for (let i = 0; i < da.length; i++) {
    const x = da[i];
    const y = db[i];
    if (
      x === undefined ||
      y === undefined ||
      x.address !== y.address ||
      x.port !== y.port ||
      x.weight !== y.weight ||
      x.forwarding !== y.forwarding
    )
      return false;
  }
  return true;
}

/** A copy of what sameGiven compares (the caller's object may change after the apply). */
function copyGiven(s: Service): Service {
  const out: Service = {
    key: s.key,
    family: s.family,
    protocol: s.protocol,
    port: s.port,
    scheduler: s.scheduler,
    destinations: s.destinations.map((d) => ({
      address: d.address,
      port: d.port,
      weight: d.weight,
      forwarding: d.forwarding,
    })),
  };
  if (s.address !== undefined) out.address = s.address;
  if (s.fwmark !== undefined) out.fwmark = s.fwmark;
  if (s.schedulerFlags !== undefined) out.schedulerFlags = [...s.schedulerFlags];
  if (s.persistence !== undefined) {
    out.persistence = { timeoutMs: s.persistence.timeoutMs };
    if (s.persistence.granularity !== undefined) out.persistence.granularity = s.persistence.granularity;
  }
  if (s.sourceNat !== undefined)
    out.sourceNat = s.sourceNat === 'masquerade' ? 'masquerade' : { address: s.sourceNat.address };
  return out;
}

/**
 * The content in the form the nftables dataplane holds it (canonical, in identity order,
 * granularity as a dotted netmask or none for a single address), or every reason it
 * cannot. With a cache (the driver keeps one between applies), a service given exactly as
 * last time is not checked and rewritten again: it is the same prepared object as last
 * time, which also lets the diff skip it at once. Prepared services are never changed
 * afterwards (the driver relies on that).
 */
export function prepareForNftables(content: DataplaneContent, cache?: PrepareCache): Prepared {
  const refusals: Refusal[] = [];
  const keyed: { id: string; p: Service }[] = [];
  const next: PrepareCache | undefined = cache ? new Map() : undefined;
  for (const s of content.services) {
    const hit = cache && typeof s.key === 'string' ? cache.get(s.key) : undefined;
    if (hit !== undefined && sameGiven(s, hit.given)) {
      keyed.push({ id: hit.id, p: hit.prepared });
      next?.set(s.key, hit);
      continue;
    }
    const found = checkService(s);
    if (Array.isArray(s.destinations)) found.push(...nftRefusals(s));
    if (found.length > 0) {
      refusals.push(...found);
      continue;
    }
    const p = nftCanonical(s);
    const id = serviceId(p);
    keyed.push({ id, p });
    // Given in canonical form already: the prepared copy is the record of what was given.
    next?.set(s.key, { given: sameGiven(s, p) ? p : copyGiven(s), prepared: p, id });
  }
  if (refusals.length > 0) {
    refusals.push(...checkDuplicates(content.services));
    return { ok: false, refusals };
  }
  // Every service is valid, so duplicates show on the prepared identities; the refusals
  // themselves come from checkDuplicates, in its words.
  const seenIds = new Set<string>();
  const seenKeys = new Set<string>();
  for (const { id, p } of keyed) {
    if (seenIds.has(id) || seenKeys.has(p.key))
      return { ok: false, refusals: checkDuplicates(content.services) };
    seenIds.add(id);
    seenKeys.add(p.key);
  }
  if (cache && next) {
    cache.clear();
    for (const [k, v] of next) cache.set(k, v);
  }
  keyed.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ok: true, services: keyed.map((x) => x.p) };
}
