import { openAnnouncer } from '../../src/drivers/arp/announcer.ts';
import type { Family } from '../../src/model/ip.ts';

// Runs inside a lab host's namespace (`ip netns exec`): announces the VIPs given as
// arguments on the interface with the real announcer, then prints one RESULT line.
//   node --import tsx arp-announce-runner.ts IFNAME REPEAT VIP...

const [ifname = 'eth0', repeat = '1', ...vips] = process.argv.slice(2);
const opened = openAnnouncer({ repeat: Number(repeat) });
if (!opened.ok) {
  console.log(`RESULT ${JSON.stringify({ ok: false, errors: [opened.error] })}`);
} else {
  const started = process.hrtime.bigint();
  const result = await opened.announcer.announce(
    vips.map((address) => ({ address, family: (address.includes(':') ? 6 : 4) as Family })),
    ifname,
  );
  const micros = Number((process.hrtime.bigint() - started) / 1000n);
  opened.announcer.close();
  console.log(`RESULT ${JSON.stringify({ ...result, micros })}`);
}
