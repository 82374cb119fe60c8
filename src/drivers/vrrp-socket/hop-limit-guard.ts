import { type NftRunner, nftRunner } from '../dataplane/nft-runner.ts';

// RFC 5798 5.1.2.3: a VRRP packet whose hop limit is not 255 came from off the link and
// must be dropped. For IPv4 the transport reads the TTL itself; an IPv6 raw socket read
// with recvfrom(2) never sees the hop limit, so the check is the kernel's: a one-rule
// nftables table of our own that drops such packets before any socket gets them. keepgit
// owns the table and touches no other; it goes when the agent stops.

export const HOP_LIMIT_TABLE = 'keepgit_vrrp';

export interface HopLimitGuard {
  /** Installs (or replaces) the rule: one nft transaction. */
  install(): Promise<{ ok: true } | { ok: false; message: string }>;
  /** Packets dropped so far, or undefined when the table cannot be read. */
  dropped(): Promise<number | undefined>;
  remove(): Promise<void>;
}

const RULE_COMMENT = 'VRRP over IPv6 must arrive with hop limit 255 (RFC 5798 5.1.2.3)';

export function hopLimitBatch(table = HOP_LIMIT_TABLE): string {
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  chain input {',
    '    type filter hook input priority mangle; policy accept;',
    `    meta nfproto ipv6 meta l4proto 112 ip6 hoplimit != 255 counter drop comment "${RULE_COMMENT}"`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export function nftHopLimitGuard(run: NftRunner = nftRunner(), table = HOP_LIMIT_TABLE): HopLimitGuard {
  return {
    async install() {
      const r = await run(['-f', '-'], hopLimitBatch(table));
      if (r.status === 0) return { ok: true };
      const why = r.status === 127 ? 'nft is not installed (apt-get install nftables)' : r.stderr.trim();
      return {
        ok: false,
        message: `cannot install the IPv6 VRRP hop-limit check (table inet ${table}): ${why}; IPv6 adverts from off the link would be accepted`,
      };
    },
    async dropped() {
      const r = await run(['-j', 'list', 'table', 'inet', table]);
      if (r.status !== 0) return undefined;
      const m = /"counter":\s*\{\s*"packets":\s*(\d+)/.exec(r.stdout);
      return m ? Number(m[1]) : undefined;
    },
    async remove() {
      await run(['delete', 'table', 'inet', table]);
    },
  };
}
