import type { Family } from '../../model/ip.ts';

// The VIP driver: the one door through which addresses on the node's interfaces change,
// and through which the agent hears that they changed behind its back (a VIP deleted by
// hand, an interface going down). The real implementation speaks rtnetlink; the fake
// keeps the same state in memory and behaves the same, so the layers above can be
// unit-tested against it. Both pass test/unit/address-driver-contract.ts.

/** Address scopes by the names `ip addr` and keepalived.conf use. */
export type AddressScope = 'global' | 'site' | 'link' | 'host' | 'nowhere';

/** An address present on an interface, as the kernel reports it. */
export interface LiveAddress {
  /** Canonical text with the prefix length: "192.0.2.10/32", "2001:db8::10/128". */
  address: string;
  family: Family;
  ifname: string;
  ifindex: number;
  /**
   * The IPv4 label when it differs from the interface name. The kernel reports an
   * unlabelled IPv4 address with the interface name as its label; leaving that out lets
   * a desired VIP without a label compare equal to what is live.
   */
  label?: string;
  /** A named scope, or the number when the kernel reports one that has no name. */
  scope: AddressScope | number;
}

/** A virtual IP to put on, or take off, an interface. */
export interface Vip {
  /** "a/p"; without "/p" the host length (/32, /128). */
  address: string;
  /** The interface name. */
  dev: string;
  /** IPv4 only, at most 15 characters (the kernel's IFNAMSIZ - 1). */
  label?: string;
  /** Default: global, like `ip addr add`. */
  scope?: AddressScope;
  /** IPv4 only: the broadcast address, or "+" to derive it from the prefix. */
  brd?: string;
}

export type AddressErrorCode =
  | 'invalid-address'
  | 'invalid-label'
  | 'invalid-broadcast'
  | 'no-such-interface'
  | 'address-conflict'
  | 'not-permitted'
  | 'kernel';

export interface AddressError {
  code: AddressErrorCode;
  /** For a person: names the interface and address, and says what to do. */
  message: string;
  /** The kernel's errno name when the kernel refused ("EINVAL"). */
  errno?: string;
}

/**
 * The outcome of add or remove. `already` means the node was already as asked (add of
 * a present address, remove of an absent one): an idempotent reconcile counts that as
 * success but need not journal an inverse for it.
 */
export type AddressChange = { ok: true; already?: true } | { ok: false; error: AddressError };

export interface LinkInfo {
  name: string;
  index: number;
  /**
   * Administratively up and with carrier (IFF_UP and IFF_RUNNING), which is what
   * keepalived means by an interface being up: either one missing takes VRRP to FAULT.
   */
  up: boolean;
  /** Colon-separated lower-case hardware address, when the link has one. */
  mac?: string;
}

export type AddressEvent =
  | { kind: 'address-added' | 'address-removed'; address: LiveAddress }
  | { kind: 'link-up' | 'link-down'; link: LinkInfo }
  /**
   * The kernel dropped notifications (the socket's buffer overflowed): some change may
   * have gone unseen, so list again rather than trust what the events said.
   */
  | { kind: 'overflow'; reason: string };

export type AddressListener = (event: AddressEvent) => void;

export interface AddressDriver {
  /** Addresses present, on one interface or on all; an interface that does not exist has none. */
  list(ifname?: string): Promise<LiveAddress[]>;
  add(vip: Vip): Promise<AddressChange>;
  /**
   * Takes the address off `vip.dev`; address and prefix must match. An absent address,
   * or an interface that does not exist, is `already` removed.
   */
  remove(vip: Vip): Promise<AddressChange>;
  links(): Promise<LinkInfo[]>;
  /**
   * Address and link changes from now on, whoever made them (this driver, `ip`, the
   * kernel itself). Events are triggers for a reconcile, not a ledger: an address event
   * may repeat when the kernel re-announces an address (a flag change), and link events
   * fire on a change of `up` only. Returns the unsubscribe function.
   */
  subscribe(listener: AddressListener): () => void;
  /** Releases the kernel sockets; the driver is not used afterwards. */
  close(): void;
}
