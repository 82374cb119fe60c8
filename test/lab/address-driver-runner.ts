import { createInterface } from 'node:readline';
import type { AddressDriver } from '../../src/drivers/addresses/address-driver.ts';
import { createNetlinkAddressDriver } from '../../src/drivers/addresses/netlink-address-driver.ts';
import { addressDriverContract, type OutsideHooks } from '../unit/address-driver-contract.ts';

// Runs the address driver contract against the netlink driver. Started by
// address-driver-real.test.ts with `ip netns exec NS`, because a netlink socket talks to
// the namespace of the process that opens it: never run it in the root namespace.
//
// The outside changes (`ip addr del`, `ip link set`) are made by the parent test, so
// they really come from another process: this runner writes `HOOK {json}` on stdout and
// waits for `OK` or `ERR message` on stdin. It ends with `RESULT {json}`. It does not
// call process.exit: the parent checks that it ends by itself, which shows that the
// driver's sockets do not keep a process alive.

const lines = createInterface({ input: process.stdin });
const answers: ((line: string) => void)[] = [];
let parentGone = false;
lines.on('line', (line) => answers.shift()?.(line));
// A parent that goes away must not leave a check waiting for an answer that never comes.
lines.on('close', () => {
  parentGone = true;
  for (const answer of answers.splice(0)) answer('stdin closed');
});

function askParent(request: object): Promise<void> {
  return new Promise((resolve, reject) => {
    if (parentGone) return reject(new Error('parent: stdin closed'));
    answers.push((line) => (line === 'OK' ? resolve() : reject(new Error(`parent: ${line}`))));
    process.stdout.write(`HOOK ${JSON.stringify(request)}\n`);
  });
}

const hooks: OutsideHooks<AddressDriver> = {
  ifname: 'eth0',
  missingIfname: 'eth9',
  removeAddress: (_d, ifname, address) => askParent({ op: 'addr-del', ifname, address }),
  setLinkUp: (_d, ifname, up) => askParent({ op: 'link', ifname, up }),
};

try {
  const passed = await addressDriverContract(() => createNetlinkAddressDriver(), hooks);
  process.stdout.write(`RESULT ${JSON.stringify({ passed })}\n`);
} catch (e) {
  process.stdout.write(`RESULT ${JSON.stringify({ failed: e instanceof Error ? e.message : String(e) })}\n`);
  process.exitCode = 1;
} finally {
  lines.close();
  process.stdin.destroy();
}
