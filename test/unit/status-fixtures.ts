import type { AgentStatus } from '../../src/agent/run-agent.ts';
import type { InstanceStatus } from '../../src/vrrp/instance.ts';

// Snapshots as a running agent reports them, for the status API's tests. Not a test file.
// The MISC_CHECK below carries a password on its command line, as real ones sometimes do:
// the status document must never show it.

export const SECRET = 'hunter2-s3cret';
export const T0 = Date.parse('2024-05-01T10:00:00.000Z');
export const COMMIT = '0123456789abcdef0123456789abcdef01234567';

export function instance(over: Partial<InstanceStatus> = {}): InstanceStatus {
  return {
    name: 'web4',
    vrid: 51,
    interface: 'eth0',
    state: 'Master',
    priority: 110,
    effectivePriority: 110,
    master: 'self',
    since: '2024-05-01T10:00:01.000Z',
    faults: [],
    counters: {
      dropped: { 'auth-mismatch': 2 },
      addressMismatch: 0,
      sendErrors: 0,
      vipErrors: 0,
      vipsHealed: 0,
      announceErrors: 0,
      internalErrors: 0,
      transport: {
        sent: 120,
        sendErrors: 0,
        received: 3,
        receiveErrors: 0,
        hopLimitUnchecked: 0,
        dropped: { ttl: 1, 'bad-checksum': 1 },
      },
    },
    ...over,
  };
}

export function agentStatus(over: Partial<AgentStatus> = {}): AgentStatus {
  return {
    node: 'lb1',
    revision: COMMIT,
    startedAt: '2024-05-01T10:00:00.000Z',
    instances: [
      instance(),
      instance({
        name: 'web6',
        vrid: 52,
        state: 'Backup',
        priority: 100,
        effectivePriority: 90,
        master: '192.0.2.12',
      }),
    ],
    loadBalancer: {
      dataplane: 'nftables',
      dataplaneReason: 'auto: kernel has no IPVS, using nftables',
      warnings: [],
      lastApply: { at: '2024-05-01T10:00:02.000Z', ok: true },
      virtualServers: [{ key: 'www', up: true, sorryActive: false, aliveWeight: 2 }],
      services: [{ key: 'www', destinations: [{ address: '198.51.100.11', port: 80, weight: 2 }] }],
      draining: [],
      realServers: [
        {
          virtualServer: 'www',
          realServer: '198.51.100.11:80',
          up: true,
          since: T0,
          weight: 2,
          checks: [
            {
              id: JSON.stringify({ type: 'misc', spec: { script: `/etc/keepgit/chk --password ${SECRET}` } }),
              kind: 'misc',
              up: true,
              since: T0,
              retrying: 0,
              last: { ok: true, latencyMs: 4 },
              lastAt: T0 + 5000,
              succeeded: 5,
              failed: 0,
            },
            {
              id: 'tcp-1',
              kind: 'tcp',
              up: true,
              since: T0,
              retrying: 0,
              last: { ok: true, latencyMs: 1 },
              lastAt: T0 + 1000,
              succeeded: 2,
              failed: 1,
            },
          ],
        },
        {
          virtualServer: 'www',
          realServer: '198.51.100.12:80',
          up: false,
          since: T0 + 3000,
          weight: 0,
          checks: [
            {
              id: 'http-1',
              kind: 'http',
              up: false,
              since: T0 + 3000,
              retrying: 0,
              last: { ok: false, latencyMs: 12, reason: 'status 503, expected 200-299' },
              lastAt: T0 + 3000,
              succeeded: 1,
              failed: 3,
            },
          ],
        },
      ],
    },
    ...over,
  };
}
