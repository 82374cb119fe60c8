import { openAnnouncer } from '../drivers/arp/announcer.ts';
import { ipFamily } from '../model/ip.ts';
import type { Announcer } from '../vrrp/instance-announcer.ts';

// The agent's gratuitous ARP / unsolicited NA: the ARP driver behind the instance's small
// Announcer interface. Without the addon or AF_PACKET the agent still runs — a VIP that
// is not announced still answers ARP, it is only learnt later — so that is a warning the
// caller logs, not a refusal to start.

export type AgentAnnouncer = { ok: true; announcer: Announcer } | { ok: false; message: string };

export function agentAnnouncer(): AgentAnnouncer {
  const opened = openAnnouncer();
  if (!opened.ok) return { ok: false, message: opened.error.message };
  const arp = opened.announcer;
  return {
    ok: true,
    announcer: {
      announce: async (vips, ifname, burst) => {
        const announced = vips.map((v) => {
          const address = v.address.split('/')[0] ?? v.address;
          return { address, family: ipFamily(address) ?? 4 };
        });
        const r = await arp.announce(announced, ifname, undefined, burst);
        if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
      },
    },
  };
}
