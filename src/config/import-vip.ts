import type { Vip } from '../model/cluster-schema.ts';
import { canonicalIp, ipFamily, parseCidr } from '../model/ip.ts';
import { type Sink, unsupported } from './import-types.ts';
import type { KaStatement } from './keepalived-ast.ts';

// One line of virtual_ipaddress / virtual_ipaddress_excluded:
//   ADDRESS[/PREFIX] [dev IF] [scope SCOPE] [brd ADDR] [label LABEL] [other ip-addr options]
// The model keeps dev, scope, brd and label; any other option is named and dropped, and
// the address itself is still imported.

const SCOPES = new Set(['global', 'site', 'link', 'host', 'nowhere']);

/** Options of `ip address add` that keepalived passes on and the model does not hold. */
const OPTION_ARGS: Record<string, number> = {
  peer: 1,
  preferred_lft: 1,
  track_group: 1,
  home: 0,
  '-nodad': 0,
  mngtmpaddr: 0,
  noprefixroute: 0,
  autojoin: 0,
  no_track: 0,
  use_vmac: 0,
};

export interface ReadVip {
  vip: Vip;
  address: string;
  family: 4 | 6;
}

export function readVip(line: KaStatement, sink: Sink): ReadVip | undefined {
  const c = parseCidr(line.keyword);
  if (!c) {
    unsupported(
      sink,
      line,
      `expected an IP address with an optional /prefix, got ${JSON.stringify(line.keyword)}`,
    );
    return undefined;
  }
  if (line.block) unsupported(sink, line, 'unexpected { block } ignored');
  const slash = line.keyword.indexOf('/');
  const address = slash < 0 ? c.address : `${c.address}/${c.prefix}`;
  const o: Exclude<Vip, string> = { address };
  const a = line.args;
  for (let i = 0; i < a.length; i++) {
    const opt = a[i] as string;
    const val = a[i + 1];
    const missing = (): void => unsupported(sink, line, `expected a value after "${opt}"`);
    if (opt === 'dev') {
      if (val === undefined) missing();
      else o.dev = val;
      i++;
    } else if (opt === 'label') {
      if (val === undefined) missing();
      else if (c.family !== 4)
        unsupported(sink, line, 'a label on an IPv6 VIP (the kernel keeps labels for IPv4 only): left out');
      else if (val.length > 15)
        unsupported(sink, line, `label ${JSON.stringify(val)} is longer than 15 characters: left out`);
      else o.label = val;
      i++;
    } else if (opt === 'scope') {
      if (val === undefined) missing();
      else if (!SCOPES.has(val)) {
        unsupported(
          sink,
          line,
          `expected scope global, site, link, host or nowhere, got ${JSON.stringify(val)}: left out`,
        );
      } else o.scope = val as NonNullable<typeof o.scope>;
      i++;
    } else if (opt === 'brd' || opt === 'broadcast') {
      if (val === undefined) missing();
      else if (c.family !== 4) unsupported(sink, line, 'a broadcast address on an IPv6 VIP: left out');
      else if (ipFamily(val) !== 4) {
        unsupported(
          sink,
          line,
          `expected an IPv4 broadcast address, got ${JSON.stringify(val)} (+ and - are not supported): left out`,
        );
      } else o.brd = canonicalIp(val);
      i++;
    } else if (opt in OPTION_ARGS) {
      const n = OPTION_ARGS[opt] ?? 0;
      unsupported(sink, line, `VIP option "${opt}" is not supported: the address is imported without it`);
      i += n;
    } else {
      unsupported(
        sink,
        line,
        `unknown VIP option ${JSON.stringify(opt)}: the address is imported without it`,
      );
    }
  }
  const plain = o.dev === undefined && o.label === undefined && o.scope === undefined && o.brd === undefined;
  return { vip: plain ? address : o, address: c.address, family: c.family };
}
