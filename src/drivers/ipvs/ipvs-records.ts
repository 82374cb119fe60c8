import { type AF_INET, AF_INET6, IPPROTO } from './ip-vs-constants.ts';

// IPVS services and destinations as the kernel sees them: the fields of the IPVS_SVC_ATTR_*
// and IPVS_DEST_ATTR_* attributes, already in canonical form so that two records are equal
// exactly when the kernel would hold the same thing.

export type IpvsAf = typeof AF_INET | typeof AF_INET6;

/** What names a service in the kernel: af + fwmark, or af + protocol + address + port. */
export interface IpvsServiceId {
  af: IpvsAf;
  /** Non-zero for a fwmark service; then protocol, addr and port are not part of the name. */
  fwmark: number;
  protocol: number;
  /** Canonical text ('' for fwmark services). */
  addr: string;
  port: number;
}

export interface IpvsService extends IpvsServiceId {
  scheduler: string;
  /** IP_VS_SVC_F_* without HASHED, which the kernel sets on every service it holds. */
  flags: number;
  /** Persistence timeout in seconds (0: not persistent). */
  timeout: number;
  /** IPv4: the mask as a number (0xffffff00 for /24), sent in network order. IPv6: the prefix length. */
  netmask: number;
  /** Persistence engine ("sip"), when one is bound. */
  peName?: string;
}

/** What names a destination within its service. */
export interface IpvsDestId {
  af: IpvsAf;
  addr: string;
  port: number;
}

export interface IpvsDest extends IpvsDestId {
  /** IP_VS_CONN_F_MASQ, _TUNNEL or _DROUTE. */
  fwdMethod: number;
  weight: number;
  uThreshold: number;
  lThreshold: number;
}

/** A service with its destinations, as dumped or as desired. */
export interface IpvsEntry {
  service: IpvsService;
  dests: IpvsDest[];
}

export function serviceIdKey(id: IpvsServiceId): string {
  return id.fwmark !== 0 ? `${id.af}/fwmark/${id.fwmark}` : `${id.af}/${id.protocol}/${id.addr}/${id.port}`;
}

export function destIdKey(d: IpvsDestId): string {
  return `${d.af}/${d.addr}/${d.port}`;
}

export function serviceIdOf(s: IpvsServiceId): IpvsServiceId {
  return { af: s.af, fwmark: s.fwmark, protocol: s.protocol, addr: s.addr, port: s.port };
}

export function destIdOf(d: IpvsDestId): IpvsDestId {
  return { af: d.af, addr: d.addr, port: d.port };
}

export function protocolName(p: number): string {
  if (p === IPPROTO.TCP) return 'TCP';
  if (p === IPPROTO.UDP) return 'UDP';
  if (p === IPPROTO.SCTP) return 'SCTP';
  return `protocol ${p}`;
}

function hostPort(af: IpvsAf, addr: string, port: number): string {
  return af === AF_INET6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** As ipvsadm lists it: "TCP 203.0.113.10:80", "FWM 7 (IPv6)". */
export function describeService(id: IpvsServiceId): string {
  if (id.fwmark !== 0) return `FWM ${id.fwmark} (IPv${id.af === AF_INET6 ? 6 : 4})`;
  return `${protocolName(id.protocol)} ${hostPort(id.af, id.addr, id.port)}`;
}

export function describeDest(d: IpvsDestId): string {
  return hostPort(d.af, d.addr, d.port);
}
