// The bytes keepalived puts in a probe that has no payload of its own (UDP_CHECK without
// a payload, PING_CHECK's echo data): its text repeated and cut at the length. keepgit
// sends the same, so a service or firewall that keepalived probed sees nothing new.

const UNIT = Buffer.from('keepalived check - ', 'latin1');

export function keepalivedFiller(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0; at < length; at += UNIT.length) UNIT.copy(out, at, 0, Math.min(UNIT.length, length - at));
  return out;
}
