import raw from 'raw-socket';

// Runs in the client's namespace during the IPv6 lab test: prints the source address of
// every Neighbour Advertisement that arrives, one "NA <source> <hex>" line each, so the
// test can check that the NA came from the VIP itself. Prints READY once listening; the
// test ends it (the time limit is only a backstop, long enough for a loaded machine).
const socket = raw.createSocket({ addressFamily: raw.AddressFamily.IPv6, protocol: 58 });
socket.on('message', (b, address) => {
  if (b[0] === 136) console.log(`NA ${address} ${b.toString('hex')}`);
});
console.log('READY');
// The timer holds the socket: nothing else refers to it once this module has run, and a
// collected raw-socket object stops reading (what made this listener "read nothing").
setTimeout(
  () => {
    socket.close();
    process.exit(0);
  },
  Number(process.argv[2] ?? 3000),
);
