import { z } from 'zod';
import {
  bool,
  cidr,
  duration,
  enumOf,
  intRange,
  ipAddress,
  name,
  script,
  secretRef,
} from './common-schema.ts';

// The VRRP half of the model: instances, their tracking, notification and sync groups.
// Field names follow keepalived's keywords in camelCase so its users recognise each knob.

export const priority = intRange(1, 255).describe('1..254; 255 only for the owner of the addresses');

/** One value for every node, or a map node → value. */
export const perNode = <T extends z.ZodType>(inner: T) => z.union([inner, z.record(z.string(), inner)]);

export const vip = z.union([
  cidr.describe('address[/prefix], e.g. 203.0.113.10/32'),
  z
    .strictObject({
      address: cidr.describe('address[/prefix]'),
      dev: z.string().optional().describe('interface to put it on (default: the instance interface)'),
      label: z.string().max(15).optional().describe('address label, at most 15 characters'),
      scope: enumOf(['global', 'site', 'link', 'host', 'nowhere']).optional(),
      brd: ipAddress.optional().describe('broadcast address (IPv4)'),
    })
    // The kernel keeps labels and broadcasts for IPv4 only: an IPv6 VIP with either would
    // be refused (or silently lose it) on the node, long after the merge.
    .superRefine((v, ctx) => {
      if (!v.address.includes(':')) return;
      if (v.label !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['label'],
          message: 'the kernel keeps labels for IPv4 addresses only: drop the label from this IPv6 VIP',
        });
      if (v.brd !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['brd'],
          message: 'IPv6 has no broadcast: drop brd from this IPv6 VIP',
        });
    }),
]);

export const garp = z
  .strictObject({
    masterDelay: duration.optional().describe('second burst of GARPs after becoming master (default 5s)'),
    masterRepeat: intRange(1, 100).optional().describe('GARPs per burst (default 5)'),
    masterRefresh: duration.optional().describe('re-announce while master (default off)'),
    masterRefreshRepeat: intRange(1, 100).optional(),
    interval: duration.optional().describe('gap between GARPs of one burst (vrrp_garp_interval)'),
    naInterval: duration.optional().describe('gap between unsolicited NAs (vrrp_gna_interval)'),
    lowerPrioDelay: duration.optional(),
    lowerPrioRepeat: intRange(1, 100).optional(),
  })
  .describe("gratuitous ARP / unsolicited NA settings (keepalived's garp_*)");

const weighted = z.union([
  name,
  z.strictObject({
    name,
    weight: intRange(-254, 254).optional(),
    reverse: bool.optional(),
  }),
]);

export const trackRefs = z.strictObject({
  interfaces: z.array(weighted).optional().describe('track_interface: down → FAULT, or ± weight'),
  scripts: z.array(weighted).optional().describe('track_script: names from scripts'),
  processes: z.array(weighted).optional().describe('track_process: names from trackProcesses'),
  files: z.array(weighted).optional().describe('track_file: names from trackFiles'),
});

export const notify = z.strictObject({
  master: script.optional(),
  backup: script.optional(),
  fault: script.optional(),
  stop: script.optional(),
  deleted: script.optional(),
  notify: script.optional().describe('generic notify: called with TYPE NAME STATE PRIORITY'),
  masterRxLowerPri: script.optional(),
});

export const auth = z.strictObject({
  type: enumOf(['PASS']).describe('PASS (VRRPv2 simple text; AH is deprecated and not supported)'),
  secretRef: secretRef.optional().describe('where the agent reads the password'),
  password: z.string().optional().describe('plaintext in Git: refused by policy no-plaintext-secret'),
});

export const vrrpSettings = {
  version: z.union([z.literal(2), z.literal(3)], { error: 'expected 2 or 3' }).optional(),
  advertInterval: duration.optional().describe('advert_int (v2: whole seconds; v3: multiple of 10ms)'),
  preempt: bool.optional().describe('default true; false = nopreempt'),
  preemptDelay: duration.optional(),
  garp: garp.optional(),
  strict: bool.optional().describe('vrrp_strict: RFC conformance checks'),
  skipCheckAdvAddr: bool.optional().describe('vrrp_skip_check_adv_addr'),
  checkUnicastSrc: bool.optional(),
  lowerPrioNoAdvert: bool.optional(),
  higherPrioSendAdvert: bool.optional(),
  acceptVips: bool.optional().describe('accept: answer on VIPs while master (v3)'),
};

export const instance = z.strictObject({
  name,
  vrid: intRange(1, 255).describe('virtual_router_id'),
  interface: perNode(z.string().min(1)).optional().describe('interface, or map node → interface'),
  nodes: z
    .array(name)
    .optional()
    .describe('nodes taking part (default: the keys of a priority map, else all)'),
  priority: perNode(priority).optional().describe('priority, or map node → priority (default 100)'),
  state: perNode(enumOf(['MASTER', 'BACKUP']))
    .optional()
    .describe('initial state (keepalived state)'),
  ...vrrpSettings,
  vips: z.array(vip).min(1, { error: 'expected at least one VIP' }).describe('virtual_ipaddress'),
  excludedVips: z.array(vip).optional().describe('virtual_ipaddress_excluded: not in adverts'),
  auth: auth.optional(),
  unicast: z
    .strictObject({
      peers: z.array(ipAddress).optional().describe('extra peers; the other nodes are added by themselves'),
    })
    .optional()
    .describe('send adverts unicast to peers instead of multicast'),
  track: trackRefs.optional(),
  notify: notify.optional(),
  dontTrackPrimary: bool.optional(),
});

export const syncGroup = z.strictObject({
  name,
  instances: z.array(name).min(1, { error: 'expected at least one instance' }),
  notify: notify.optional(),
  track: trackRefs.optional(),
});

export const vrrpScript = z.strictObject({
  name,
  script,
  interval: duration.optional().describe('default 1s'),
  timeout: duration.optional(),
  weight: intRange(-254, 254).optional(),
  rise: intRange(1, 1000).optional(),
  fall: intRange(1, 1000).optional(),
  user: z.string().optional().describe('unprivileged user[:group] to run it as'),
  initFail: bool.optional(),
});

export const trackProcess = z.strictObject({
  name,
  process: z.string().min(1),
  args: z.string().optional(),
  paramMatch: enumOf(['initial', 'partial']).optional(),
  weight: intRange(-254, 254).optional(),
  quorum: intRange(1, 65535).optional(),
  quorumMax: intRange(1, 65535).optional(),
  forkDelay: duration.optional(),
  terminateDelay: duration.optional(),
  delay: duration.optional(),
  fullCommand: bool.optional(),
});

export const trackFile = z.strictObject({
  name,
  file: z.string().min(1),
  weight: intRange(-254, 254).optional(),
  initFile: z
    .union([bool, z.strictObject({ value: z.number().int().optional(), overwrite: bool.optional() })])
    .optional(),
});

export const vrrpDefaults = z.strictObject(vrrpSettings);
