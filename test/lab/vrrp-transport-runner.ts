import raw from 'raw-socket';
import { openVrrpTransport } from '../../src/drivers/vrrp-socket/vrrp-transport.ts';
import { VRRP_GROUP_V4 } from '../../src/vrrp/advert.ts';
import { craftIpv4, type RunnerJob, receivedToJson, stepFromJson } from './vrrp-transport-wire.ts';

// One end of a lab exchange, run inside a network namespace by the test
// (`ip netns exec NS node --import tsx vrrp-transport-runner.ts JOB-JSON`): a raw socket
// lives in the namespace of the process that opens it. Prints one JSON object per line.

const print = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

async function main(job: RunnerJob): Promise<void> {
  const t = await openVrrpTransport(job.options);
  if (job.role === 'receive') {
    let count = 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, job.timeoutMs);
      t.onAdvert((r) => {
        print({ event: 'advert', ...receivedToJson(r) });
        if (++count >= job.expect) {
          clearTimeout(timer);
          resolve();
        }
      });
      print({ event: 'ready' });
    });
  } else {
    for (const s of job.steps.map(stepFromJson)) {
      if (s.kind === 'advert') await t.send(s.advert);
      else await sendCrafted(job.options.ifname, job.options.sourceAddress, s.advert, s.ttl);
    }
  }
  print({ event: 'done', counters: t.counters() });
  await t.close();
}

/** A separate socket, so the transport under test never has a way to send a bad TTL. */
async function sendCrafted(
  ifname: string,
  src: string,
  advert: Parameters<typeof craftIpv4>[0],
  ttl: number,
): Promise<void> {
  const s = raw.createSocket({ addressFamily: raw.AddressFamily.IPv4, protocol: 112 });
  s.setOption(1, 25, Buffer.from(`${ifname}\0`), ifname.length + 1);
  s.setOption(0, 3, 1);
  const frame = craftIpv4(advert, src, VRRP_GROUP_V4, ttl);
  await new Promise<void>((resolve, reject) => {
    s.send(frame, 0, frame.length, VRRP_GROUP_V4, (e) => (e ? reject(e) : resolve()));
  });
  s.close();
}

main(JSON.parse(process.argv[2] ?? '{}') as RunnerJob).then(
  () => process.exit(0),
  (e: unknown) => {
    print({ event: 'error', message: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  },
);
