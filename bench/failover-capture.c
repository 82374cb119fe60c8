// bench/failover-capture.c: the packet capture of bench/failover.ts, in place of tcpdump
// (not installed here). Compiled by the bench with `cc -O2`, run in the lab's switch
// namespace on the bridge port that leads to the client:
//
//   failover-capture PORT
//
// One AF_PACKET socket bound to PORT sees every frame the bridge sends out of it, that
// is exactly what the segment delivered to the client (a frame the isolation rule drops
// at the bridge never leaves it). Of those, VRRP over IPv4 and ARP are printed, one line
// each, "<epoch seconds with 9 decimals> <frame bytes in hex, at most 96>", after a
// first line "ready". The time is the kernel's (SO_TIMESTAMPNS), taken as the frame
// left the bridge, so nothing that delays this process moves it.
//
// Why a separate process in C: a listener inside Node (raw-socket) was seen to read
// nothing at all on a loaded machine. The cause was found (the socket object was garbage
// collected: nothing referenced it once the module's top level had run), but a blocking
// recvmsg(2) loop with kernel timestamps has no such failure mode and no event loop
// between the wire and the timestamp.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SHOWN 96

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: failover-capture PORT\n");
    return 2;
  }
  unsigned ifindex = if_nametoindex(argv[1]);
  if (ifindex == 0) {
    fprintf(stderr, "failover-capture: no interface %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) {
    fprintf(stderr, "failover-capture: socket(AF_PACKET): %s\n", strerror(errno));
    return 1;
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    fprintf(stderr, "failover-capture: bind(%s): %s\n", argv[1], strerror(errno));
    return 1;
  }
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) {
    fprintf(stderr, "failover-capture: SO_TIMESTAMPNS: %s\n", strerror(errno));
    return 1;
  }
  // The pinger sends 400 frames a second through this port: room for seconds of them.
  int rcvbuf = 8 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ready\n");

  unsigned char frame[2048];
  char control[256];
  for (;;) {
    struct sockaddr_ll from;
    struct iovec iov = {frame, sizeof frame};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "failover-capture: recvmsg: %s\n", strerror(errno));
      return 1;
    }
    if (from.sll_pkttype != PACKET_OUTGOING || n < 14) continue;
    unsigned type = ((unsigned)frame[12] << 8) | frame[13];
    int vrrp = type == ETH_P_IP && n >= 34 && frame[23] == 112;
    if (!vrrp && type != ETH_P_ARP) continue;
    struct timespec at;
    int stamped = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        memcpy(&at, CMSG_DATA(c), sizeof at);
        stamped = 1;
      }
    if (!stamped) clock_gettime(CLOCK_REALTIME, &at);
    printf("%lld.%09ld ", (long long)at.tv_sec, at.tv_nsec);
    for (ssize_t i = 0; i < n && i < SHOWN; i++) printf("%02x", frame[i]);
    printf("\n");
  }
}
