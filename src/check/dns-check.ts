import { randomInt } from 'node:crypto';
import type { Check } from '../model/cluster-schema.ts';
import type { ProbeFn } from './check-types.ts';
import { type DnsTypeName, decodeHeader, encodeQuery, rcodeName } from './dns-message.ts';
import { exchangeUdp } from './udp-exchange.ts';

// DNS_CHECK: one query over UDP, as keepalived's check_dns.c asks it. The server is up
// when a response to that query (same id, QR set) arrives with RCODE 0 (NOERROR). Like
// keepalived, the answer section is not looked at: NOERROR with no answer (NODATA) is up,
// because the server answered. Datagrams that are too short, carry another id or are not
// responses are ignored and the wait goes on; any other RCODE (NXDOMAIN, REFUSED,
// SERVFAIL, ...) is down, as are an ICMP unreachable and silence until the timeout.

export type DnsSpec = Partial<Pick<Extract<Check, { type: 'dns' }>, 'queryType' | 'queryName'>>;

/** keepalived's defaults: an SOA query for the root (its default name is empty, i.e. "."). */
export const DNS_DEFAULT_TYPE: DnsTypeName = 'SOA';
export const DNS_DEFAULT_NAME = '.';

export const probeDns: ProbeFn<DnsSpec> = (spec, target, ctx) => {
  const type = spec.queryType ?? DNS_DEFAULT_TYPE;
  const name = spec.queryName ?? DNS_DEFAULT_NAME;
  // A random id, so a late answer to an earlier attempt cannot pass for this one's.
  const id = randomInt(0, 0x10000);
  const query = encodeQuery({ id, name, type });
  if (!query.ok) return Promise.resolve({ ok: false, latencyMs: 0, reason: `queryName: ${query.error}` });
  const asked = `${type} ${name}`;
  return exchangeUdp(query.bytes, target, ctx, {
    onReply: (reply) => {
      const h = decodeHeader(reply);
      if (!h || h.id !== id || !h.response) return undefined;
      if (h.rcode !== 0) return { ok: false, reason: `${asked}: rcode ${h.rcode} (${rcodeName(h.rcode)})` };
      return { ok: true, detail: `${asked}: NOERROR, ${h.ancount} answer${h.ancount === 1 ? '' : 's'}` };
    },
    onSilence: (ms) => ({ ok: false, reason: `${asked}: timeout after ${ms} ms, no response` }),
  });
};
