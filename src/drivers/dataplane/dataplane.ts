// The load-balancing dataplane: what the kernel forwards for each virtual server. Two real
// implementations (nftables, IPVS over generic netlink) and an in-memory fake share this
// interface and one contract test. The planner computes a DataplaneContent from the
// repository and the checkers' facts; a driver makes the kernel hold exactly that content,
// touching only what it owns, in one transaction.

export type DataplaneKind = 'nftables' | 'ipvs';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type Forwarding = 'nat' | 'dr' | 'tun';

export interface Destination {
  address: string;
  port: number;
  /** 0 = kept but given no new connections (inhibit_on_failure, draining). */
  weight: number;
  forwarding: Forwarding;
}

export interface Service {
  /** The virtual server's stable key (ViewVirtualServer.key). */
  key: string;
  family: 4 | 6;
  protocol: Protocol;
  /** Unset for fwmark services. */
  address?: string;
  port: number;
  fwmark?: number;
  /** keepalived's lb_algo names: rr, wrr, sh, dh, random, lc, wlc ... */
  scheduler: string;
  schedulerFlags?: readonly string[];
  persistence?: { timeoutMs: number; granularity?: string };
  /** Source NAT for one-armed set-ups (nftables): rewrite to this address, or masquerade. */
  sourceNat?: { address: string } | 'masquerade';
  destinations: Destination[];
}

/** What the dataplane holds (or should hold): the services keepgit owns, in any order. */
export interface DataplaneContent {
  services: Service[];
}

export interface DataplaneCapabilities {
  kind: DataplaneKind;
  schedulers: readonly string[];
  forwarding: readonly Forwarding[];
  protocols: readonly Protocol[];
  fwmark: boolean;
  persistence: boolean;
}

/** A kernel feature that is missing, said so that an operator knows what to do. */
export interface DataplaneUnavailable {
  kind: DataplaneKind;
  /** e.g. "kernel has no IPVS (family not registered); use dataplane: nftables". */
  message: string;
}

export type Probe =
  | { ok: true; capabilities: DataplaneCapabilities }
  | ({ ok: false } & DataplaneUnavailable);

export interface ApplyStats {
  /** Services added, changed (any field or destination) and removed by this apply. */
  added: number;
  changed: number;
  removed: number;
  /** Wall time the kernel transaction took, for status and benches. */
  ms: number;
}

export interface Dataplane {
  readonly kind: DataplaneKind;
  probe(): Promise<Probe>;
  /** The content keepgit owns as the kernel holds it now (never anything it does not own). */
  read(): Promise<DataplaneContent>;
  /**
   * Makes the kernel hold exactly `desired`, changing only what differs from what it holds.
   * All or nothing: on rejection the previous content is intact and the promise rejects
   * with a DataplaneError.
   */
  apply(desired: DataplaneContent): Promise<ApplyStats>;
  /** Removes everything keepgit owns (agent shutdown with `dataplane.cleanupOnStop`). */
  clear(): Promise<void>;
}

export class DataplaneError extends Error {
  constructor(
    readonly kind: DataplaneKind,
    message: string,
    /** The service the kernel refused, when known. */
    readonly service?: string,
  ) {
    super(message);
    this.name = 'DataplaneError';
  }
}
