import type { LiveAddress, Vip } from '../drivers/addresses/address-driver.ts';
import { parseCidr } from '../model/ip.ts';
import type { VrrpStateName } from '../vrrp/state-machine.ts';
import type { DriftObservation } from './drift-tracker.ts';

// Address drift: the VIPs the VRRP facts say this node must hold, against the addresses
// the kernel lists. A master (or a master still stopping) holds every VIP of its instance;
// a backup or an instance in fault holds none. Initialize, and a stop that has already let
// go, say nothing: the node is between two answers.

export interface InstanceAddresses {
  instance: string;
  state: VrrpStateName;
  /** Whether the instance holds its VIPs now (master, or stopping before it let go). */
  holds: boolean;
  vips: readonly Vip[];
}

export interface AddressFinding extends DriftObservation {
  kind: 'vip-missing' | 'vip-unexpected';
  instance: string;
  vip: Vip;
  /** The VIP as the kernel names it: "a/p", canonical. */
  address: string;
}

/** "a/p" as the kernel reports it (canonical address, the host length when none is given). */
export function addressKey(address: string): string {
  const c = parseCidr(address);
  return c ? `${c.address}/${c.prefix}` : address;
}

const where = (dev: string, address: string) => `${dev} ${address}`;

/** What differs, instance by instance, VIP by VIP, in the order given. */
export function addressDrift(
  instances: readonly InstanceAddresses[],
  live: readonly LiveAddress[],
): AddressFinding[] {
  const present = new Set(live.map((a) => where(a.ifname, addressKey(a.address))));
  // A VIP that an instance holding its VIPs wants is nobody's stray, whoever else lists it.
  const wanted = new Set(
    instances.filter(holding).flatMap((i) => i.vips.map((v) => where(v.dev, addressKey(v.address)))),
  );
  const out: AddressFinding[] = [];
  for (const i of instances) {
    for (const vip of i.vips) {
      const address = addressKey(vip.address);
      const here = present.has(where(vip.dev, address));
      const subject = `instance ${i.instance} VIP ${address}`;
      if (holding(i) && !here)
        out.push({
          kind: 'vip-missing',
          subject,
          expected: `present on ${vip.dev}`,
          actual: 'absent',
          instance: i.instance,
          vip,
          address,
        });
      else if (releasing(i) && here && !wanted.has(where(vip.dev, address)))
        out.push({
          kind: 'vip-unexpected',
          subject,
          expected: `absent (this node is ${i.state})`,
          actual: `present on ${vip.dev}`,
          instance: i.instance,
          vip,
          address,
        });
    }
  }
  return out;
}

function holding(i: InstanceAddresses): boolean {
  return i.holds && (i.state === 'Master' || i.state === 'Stopping');
}

function releasing(i: InstanceAddresses): boolean {
  return !i.holds && (i.state === 'Backup' || i.state === 'Fault');
}
