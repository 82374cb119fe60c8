// MAC addresses as the announcer takes them ("02:4b:41:00:00:12", as `ip link` and the VIP
// driver's LinkInfo print them) and as frames carry them (6 bytes).

const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

/** The 6 bytes of a colon-separated MAC, or undefined when the text is not one. */
export function macBytes(mac: string): Buffer | undefined {
  if (!MAC_RE.test(mac)) return undefined;
  return Buffer.from(mac.split(':').map((h) => Number.parseInt(h, 16)));
}

/**
 * A MAC others can learn a neighbour entry from. Multicast/broadcast (I/G bit set) and
 * all-zero addresses are refused: a router would drop the announcement, or worse, keep it.
 */
export function isUnicastMac(mac: Buffer): boolean {
  return mac.length === 6 && ((mac[0] ?? 1) & 1) === 0 && mac.some((b) => b !== 0);
}
