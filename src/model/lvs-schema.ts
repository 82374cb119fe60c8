import { z } from 'zod';
import { bool, duration, enumOf, intRange, ipAddress, name, port, script } from './common-schema.ts';

// The load-balancing half of the model: virtual servers, real servers and their health
// checks, in keepalived's vocabulary (lb_algo → scheduler, lb_kind → forwarding).

export const SCHEDULERS = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'sh',
  'dh',
  'sed',
  'nq',
  'mh',
  'fo',
  'ovf',
  'random',
] as const;
export const FORWARDING = ['nat', 'dr', 'tun'] as const;

const timing = {
  connectTimeout: duration.optional().describe('default 5s'),
  retry: intRange(0, 1000).optional().describe('retries before DOWN (nb_get_retry); default 1'),
  delayBeforeRetry: duration.optional().describe('default 1s'),
  delayLoop: duration.optional().describe('interval between checks; default 60s'),
  warmup: duration.optional().describe('random delay before the first check'),
};

const checkCommon = {
  ...timing,
  connectIp: ipAddress.optional(),
  connectPort: port.optional(),
  bindTo: ipAddress.optional(),
  bindPort: port.optional(),
  bindIf: z.string().optional(),
  fwmark: intRange(1, 0xffffffff).optional(),
  alpha: bool.optional().describe('start DOWN until the first success'),
};

const statusCode = z.union([intRange(100, 599), z.string().regex(/^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$/)]);

export const url = z.strictObject({
  path: z.string().startsWith('/', { error: 'expected a path starting with /' }),
  statusCode: statusCode.optional().describe('expected status (default 200-299), or "200-299,302"'),
  digest: z
    .string()
    .regex(/^[0-9a-f]{32}$/i, { error: 'expected an MD5 digest: 32 hex digits (keepgit genhash prints it)' })
    .optional(),
  regex: z.string().optional(),
  regexNoMatch: bool.optional(),
  virtualhost: z.string().optional(),
});

export const check = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('tcp'), ...checkCommon }),
    z.strictObject({
      type: z.literal('http'),
      ...checkCommon,
      urls: z.array(url).min(1, { error: 'expected at least one url' }),
      virtualhost: z.string().optional(),
      httpProtocol: enumOf(['1.0', '1.0C', '1.1', '1.0K']).optional(),
    }),
    z.strictObject({
      type: z.literal('https'),
      ...checkCommon,
      urls: z.array(url).min(1, { error: 'expected at least one url' }),
      virtualhost: z.string().optional(),
      sni: bool.optional().describe('send the virtualhost as TLS SNI (enable_sni)'),
      httpProtocol: enumOf(['1.0', '1.0C', '1.1', '1.0K']).optional(),
    }),
    z.strictObject({
      type: z.literal('misc'),
      ...checkCommon,
      script,
      timeout: duration.optional().describe('misc_timeout'),
      dynamic: bool.optional().describe('misc_dynamic: exit code 2..255 sets weight = code - 2'),
      user: z.string().optional(),
    }),
    z.strictObject({
      type: z.literal('dns'),
      ...checkCommon,
      queryType: enumOf(['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA']).optional(),
      queryName: z.string().optional(),
    }),
    z.strictObject({
      type: z.literal('udp'),
      ...checkCommon,
      payload: z
        .string()
        .regex(/^([0-9a-f]{2})*$/i, { error: 'expected hex bytes' })
        .optional(),
      requireReply: z.union([bool, z.string()]).optional(),
    }),
    z.strictObject({ type: z.literal('ping'), ...checkCommon }),
    z.strictObject({ type: z.literal('smtp'), ...checkCommon, heloName: z.string().optional() }),
    z.strictObject({
      type: z.literal('file'),
      ...checkCommon,
      file: name.describe('a trackFiles name'),
      weight: intRange(-254, 254).optional(),
      reverse: bool.optional(),
    }),
  ],
  {
    error: (i) =>
      `expected a check type: tcp, http, https, misc, dns, udp, ping, smtp or file, got ${JSON.stringify((i.input as { type?: unknown })?.type ?? null)}`,
  },
);

export const realServer = z.strictObject({
  address: ipAddress,
  port: port.optional().describe('default: the virtual server port'),
  weight: intRange(0, 65535).optional().describe('default 1'),
  forwarding: enumOf(FORWARDING).optional(),
  inhibitOnFailure: bool.optional().describe('set weight 0 instead of removing when down'),
  checks: z.array(check).optional(),
  notifyUp: script.optional(),
  notifyDown: script.optional(),
  upperThreshold: intRange(0, 1_000_000).optional(),
  lowerThreshold: intRange(0, 1_000_000).optional(),
  ...timing,
});

const sorryServer = z.strictObject({
  address: ipAddress,
  port: port.optional(),
  forwarding: enumOf(FORWARDING).optional(),
  inhibit: bool.optional(),
});

export const virtualServer = z.strictObject({
  name: name.optional().describe('default: ADDRESS:PORT/PROTOCOL, FWMARK:N or GROUP:NAME'),
  nodes: z.array(name).optional().describe('nodes that run it (default: all)'),
  address: ipAddress.optional().describe('one of address, fwmark, group'),
  fwmark: intRange(1, 0xffffffff).optional(),
  group: name.optional().describe('a virtualServerGroups name'),
  port: port.optional(),
  protocol: enumOf(['TCP', 'UDP', 'SCTP']).optional().describe('default TCP'),
  family: z
    .union([z.literal(4), z.literal(6)])
    .optional()
    .describe('for fwmark services'),
  scheduler: enumOf(SCHEDULERS).optional().describe('lb_algo; default wlc'),
  schedulerFlags: z
    .array(enumOf(['hashed', 'sh-fallback', 'sh-port', 'mh-fallback', 'mh-port', 'ovf-fallback']))
    .optional(),
  forwarding: enumOf(FORWARDING).optional().describe('lb_kind; default nat'),
  sourceNat: z
    .union([z.literal('masquerade'), ipAddress])
    .optional()
    .describe(
      'nftables dataplane: rewrite the client address of forwarded connections (masquerade, or this address), for one-armed set-ups where real servers do not route back through the node',
    ),
  persistence: z
    .union([
      duration,
      z.strictObject({
        timeout: duration,
        granularity: z.string().optional().describe('netmask, e.g. 255.255.255.0'),
      }),
    ])
    .optional()
    .describe('persistence_timeout, or { timeout, granularity }'),
  persistenceEngine: z.string().optional(),
  sorryServer: sorryServer.optional(),
  quorum: z
    .strictObject({
      value: intRange(1, 1_000_000).optional(),
      hysteresis: intRange(0, 1_000_000).optional(),
      up: script.optional(),
      down: script.optional(),
    })
    .optional(),
  inhibitOnFailure: bool.optional().describe('default for the real servers'),
  alpha: bool.optional(),
  omega: bool.optional(),
  virtualhost: z.string().optional(),
  opsScheduling: bool.optional().describe('ops: one-packet scheduling (UDP)'),
  haSuspend: bool.optional(),
  drainTime: duration
    .optional()
    .describe(
      'a real server a revision removes keeps its open connections at weight 0 this long before it is deleted (default 10s; 0s deletes at once, as keepalived does)',
    ),
  ...timing,
  realServers: z.array(realServer).optional(),
});

export const virtualServerGroup = z.strictObject({
  name,
  members: z
    .array(
      z.union([
        z.strictObject({ address: ipAddress, port: port.optional(), range: intRange(0, 255).optional() }),
        z.strictObject({ fwmark: intRange(1, 0xffffffff) }),
      ]),
    )
    .min(1),
});
