// The one thing the IPVS driver needs from the kernel: send a generic netlink request,
// get back its replies. The real socket (netlink-genl-socket.ts) and the fake kernel
// (fake-ipvs-kernel.ts) both speak only bytes, so every byte on the wire comes from the
// codec and the fake checks the same bytes the kernel would.

export interface GenlSocket {
  /**
   * Sends one request (a whole netlink message) and resolves with every reply message
   * carrying its sequence number, one message per element, through the NLMSG_ERROR or
   * NLMSG_DONE that ends the exchange. Rejects when the socket fails or the kernel does
   * not finish answering in time.
   */
  exchange(request: Uint8Array): Promise<Uint8Array[]>;
  close(): void;
}
