import { z } from 'zod';
import { apiVersion, duration, enumOf, intRange, ipAddress, metadata, name } from './common-schema.ts';
import { virtualServer, virtualServerGroup } from './lvs-schema.ts';
import {
  instance,
  priority,
  syncGroup,
  trackFile,
  trackProcess,
  vrrpDefaults,
  vrrpScript,
} from './vrrp-schema.ts';

// The two documents of a desired-state repository: keepgit.yaml holds the Cluster,
// nodes/NAME.yaml one Node each. A Node only says who it is and what differs on it.

export const DATAPLANES = ['auto', 'ipvs', 'nftables'] as const;

export const clusterDoc = z.strictObject({
  apiVersion,
  kind: z.literal('Cluster', { error: 'expected kind: Cluster' }),
  metadata,
  dataplane: enumOf(DATAPLANES).optional().describe('auto (default) probes the kernel'),
  defaults: z
    .strictObject({
      vrrp: vrrpDefaults.optional(),
      check: z
        .strictObject({
          connectTimeout: duration.optional(),
          retry: intRange(0, 1000).optional(),
          delayBeforeRetry: duration.optional(),
          delayLoop: duration.optional(),
        })
        .optional(),
    })
    .optional(),
  scripts: z.array(vrrpScript).optional().describe('vrrp_script definitions'),
  trackProcesses: z.array(trackProcess).optional().describe('vrrp_track_process definitions'),
  trackFiles: z.array(trackFile).optional().describe('vrrp_track_file definitions'),
  instances: z.array(instance).optional(),
  syncGroups: z.array(syncGroup).optional(),
  virtualServerGroups: z.array(virtualServerGroup).optional(),
  virtualServers: z.array(virtualServer).optional(),
});

const instanceOverride = z.strictObject({
  priority: priority.optional(),
  interface: z.string().min(1).optional(),
  state: enumOf(['MASTER', 'BACKUP']).optional(),
  preempt: z.boolean().optional(),
});

export const nodeDoc = z.strictObject({
  apiVersion,
  kind: z.literal('Node', { error: 'expected kind: Node' }),
  metadata,
  routerId: z.string().optional().describe('router_id (default: the node name)'),
  dataplane: enumOf(DATAPLANES).optional(),
  interfaces: z
    .record(
      z.string(),
      z.strictObject({
        unicastSource: ipAddress.optional().describe('unicast_src_ip for instances on this interface'),
        addresses: z.array(z.string()).optional().describe("the node's own addresses (checked against VIPs)"),
      }),
    )
    .optional(),
  instances: z
    .record(z.string(), instanceOverride)
    .optional()
    .describe('per-instance overrides for this node'),
  scriptUser: z.string().optional().describe('user scripts run as (script_user)'),
  enableScriptSecurity: z.boolean().optional(),
});

export const policyDoc = z.strictObject({
  apiVersion,
  kind: z.literal('Policy', { error: 'expected kind: Policy' }),
  metadata: metadata.optional(),
  builtin: z
    .record(
      z.string(),
      z.strictObject({
        enabled: z.boolean().optional(),
        severity: enumOf(['error', 'warn']).optional(),
        params: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .optional()
    .describe('disable or tune built-in rules by id'),
  rules: z
    .array(
      z.strictObject({
        id: name,
        severity: enumOf(['error', 'warn']),
        message: z.string().min(1),
        for: enumOf(['instances', 'vips', 'virtualServers', 'realServers', 'checks', 'nodes']),
        where: z.record(z.string(), z.unknown()).optional().describe('fields that select the items'),
        require: z
          .strictObject({
            field: z.string().min(1),
            present: z.boolean().optional(),
            equals: z.unknown().optional(),
            oneOf: z.array(z.unknown()).optional(),
            notOneOf: z.array(z.unknown()).optional(),
            min: z.number().optional(),
            max: z.number().optional(),
            matches: z.string().optional(),
            maxDuration: duration.optional(),
            minDuration: duration.optional(),
            within: z.string().optional().describe('CIDR the address must lie in'),
          })
          .describe('the condition every selected item must meet'),
      }),
    )
    .optional(),
});

export type ClusterDoc = z.infer<typeof clusterDoc>;
export type NodeDoc = z.infer<typeof nodeDoc>;
export type PolicyDoc = z.infer<typeof policyDoc>;
export type Instance = NonNullable<ClusterDoc['instances']>[number];
export type SyncGroup = NonNullable<ClusterDoc['syncGroups']>[number];
export type VirtualServer = NonNullable<ClusterDoc['virtualServers']>[number];
export type RealServer = NonNullable<VirtualServer['realServers']>[number];
export type Check = NonNullable<RealServer['checks']>[number];
export type Vip = Instance['vips'][number];
export type VrrpScript = NonNullable<ClusterDoc['scripts']>[number];
export type TrackProcess = NonNullable<ClusterDoc['trackProcesses']>[number];
export type TrackFile = NonNullable<ClusterDoc['trackFiles']>[number];
export type PolicyRule = NonNullable<PolicyDoc['rules']>[number];
