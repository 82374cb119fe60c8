import { readFileSync } from 'node:fs';

// What the announcer needs to know about an interface, read from sysfs and procfs:
// cheap enough to read on every announcement, so a link that was re-created (new index,
// new MAC) is announced correctly without any cache to invalidate. Under
// `ip netns exec`, /sys and /proc/sys are the namespace's own.

export interface LinkFacts {
  index: number;
  /** Lower-case, colon-separated, as sysfs prints it. */
  mac: string;
  /** net.ipv6.conf.IF.forwarding: keepalived then sets the Router flag in its NAs. */
  ipv6Forwarding: boolean;
}

const IFNAME_RE = /^[^/\s:]{1,15}$/;

export function linkFacts(ifname: string): LinkFacts | undefined {
  if (!IFNAME_RE.test(ifname)) return undefined;
  try {
    const index = Number.parseInt(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'), 10);
    const mac = readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim().toLowerCase();
    if (!Number.isInteger(index) || index <= 0) return undefined;
    return { index, mac, ipv6Forwarding: readForwarding(ifname) };
  } catch {
    return undefined;
  }
}

function readForwarding(ifname: string): boolean {
  try {
    return readFileSync(`/proc/sys/net/ipv6/conf/${ifname}/forwarding`, 'utf8').trim() === '1';
  } catch {
    // No IPv6 on this link: there will be no NA to flag anyway.
    return false;
  }
}
