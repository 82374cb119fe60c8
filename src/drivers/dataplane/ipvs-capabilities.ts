import type { DataplaneCapabilities } from './dataplane.ts';

// What IPVS can do, in one place for the IPVS driver and the fake that stands for it.

/** The schedulers of the kernel's ip_vs_* modules. IPVS has no "random" (nftables has). */
export const IPVS_SCHEDULERS = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'sed',
  'nq',
  'fo',
  'ovf',
  'mh',
  'twos',
] as const;

export const IPVS_CAPABILITIES: DataplaneCapabilities = {
  kind: 'ipvs',
  schedulers: IPVS_SCHEDULERS,
  forwarding: ['nat', 'dr', 'tun'],
  protocols: ['TCP', 'UDP', 'SCTP'],
  fwmark: true,
  persistence: true,
};
