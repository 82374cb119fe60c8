// bench/failover-adverts.ts — a VRRP advert listener for bench/failover.ts, run in the
// client's namespace (no tcpdump needed): a raw IPv4 socket for protocol 112 that joins
// 224.0.0.18 on the interface holding LOCAL_ADDRESS and prints one line per advert heard,
// "<epoch ms> <source> <vrid> <priority>", after a first line "ready".
//
//   node --import tsx bench/failover-adverts.ts LOCAL_ADDRESS
import raw from 'raw-socket';

const local = process.argv[2];
if (!local || !/^\d+\.\d+\.\d+\.\d+$/.test(local)) {
  console.error('usage: failover-adverts.ts LOCAL_IPV4_ADDRESS');
  process.exit(2);
}
const IPPROTO_IP = 0;
const IP_ADD_MEMBERSHIP = 35;
const quad = (a: string) => Buffer.from(a.split('.').map(Number));
// struct ip_mreq: the group, then the local address of the interface to join it on.
const mreq = Buffer.concat([quad('224.0.0.18'), quad(local)]);

const socket = raw.createSocket({ addressFamily: raw.AddressFamily.IPv4, protocol: 112, bufferSize: 8192 });
socket.setOption(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq, mreq.length);
socket.on('message', (b: Buffer) => {
  const at = Date.now();
  const ihl = ((b[0] ?? 0) & 0x0f) * 4;
  if (b.length < ihl + 3) return;
  const src = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  process.stdout.write(`${at} ${src} ${b[ihl + 1]} ${b[ihl + 2]}\n`);
});
socket.on('error', (e: Error) => {
  console.error(`advert listener: ${e.message}`);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
// raw-socket's watcher does not hold the event loop open: this does, until a signal.
setInterval(() => {}, 60_000);
process.stdout.write('ready\n');
