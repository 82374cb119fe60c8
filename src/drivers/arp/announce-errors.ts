// What can stop an announcement, as values with advice (DESIGN.md: a missing kernel
// feature or a permission names the feature and what to do). Shared by the real
// announcer and the fake so that the layers above see the same values from both.

export type AnnounceErrorCode =
  | 'addon-not-built'
  | 'no-af-packet'
  | 'no-raw-socket'
  | 'not-permitted'
  | 'no-such-interface'
  | 'invalid-address'
  | 'invalid-mac'
  | 'kernel';

export interface AnnounceError {
  code: AnnounceErrorCode;
  /** For a person: names the interface and address, and says what to do. */
  message: string;
  /** The errno name when the kernel refused ("EPERM"). */
  errno?: string;
  /** The VIP the error is about, when it is about one. */
  address?: string;
}

export function addonNotBuilt(path: string, detail: string): AnnounceError {
  return {
    code: 'addon-not-built',
    message:
      `gratuitous ARP needs the ARP addon (${path}), which could not be loaded (${detail}); ` +
      'run npm install to build the ARP addon (it needs g++, make and the Node headers)',
  };
}

export function noSuchInterface(ifname: string): AnnounceError {
  return {
    code: 'no-such-interface',
    message: `cannot announce VIPs on ${ifname}: there is no such interface on this node; create it or fix the instance's interface`,
  };
}

export function invalidMac(mac: string, ifname: string): AnnounceError {
  return {
    code: 'invalid-mac',
    message: `cannot announce VIPs on ${ifname} from MAC ${JSON.stringify(mac)}: not a unicast MAC address (aa:bb:cc:dd:ee:ff)`,
  };
}

export function invalidAddress(address: string, family: number): AnnounceError {
  return {
    code: 'invalid-address',
    address,
    message: `cannot announce ${JSON.stringify(address)}: not an IPv${family} address`,
  };
}

/** A socket could not be opened or used; `kind` says which one, for the advice. */
export function socketError(
  kind: 'AF_PACKET' | 'ICMPv6',
  ifname: string,
  errno: string | undefined,
  detail: string,
  address?: string,
): AnnounceError {
  const what =
    kind === 'AF_PACKET'
      ? `send gratuitous ARP on ${ifname}`
      : `send unsolicited neighbour adverts${address ? ` for ${address}` : ''} on ${ifname}`;
  const at = address ? { address } : {};
  if (errno === 'EPERM' || errno === 'EACCES')
    return {
      code: 'not-permitted',
      errno,
      ...at,
      message: `cannot ${what}: not permitted (${errno}); the agent needs CAP_NET_RAW (run it as root or grant the capability)`,
    };
  if (errno === 'EAFNOSUPPORT' || errno === 'EPROTONOSUPPORT' || errno === 'ESOCKTNOSUPPORT')
    return kind === 'AF_PACKET'
      ? {
          code: 'no-af-packet',
          errno,
          message: `cannot ${what}: this kernel has no AF_PACKET sockets (${errno}); load the af_packet module or enable CONFIG_PACKET`,
        }
      : {
          code: 'no-raw-socket',
          errno,
          ...at,
          message: `cannot ${what}: this kernel offers no raw ICMPv6 sockets (${errno}); enable IPv6`,
        };
  if (errno === 'ENODEV' || errno === 'ENXIO')
    return {
      code: 'no-such-interface',
      errno,
      ...at,
      message: `cannot ${what}: interface ${ifname} disappeared; create it or fix the instance's interface`,
    };
  if (kind === 'ICMPv6' && (errno === 'EADDRNOTAVAIL' || errno === 'EINVAL'))
    return {
      code: 'kernel',
      errno,
      ...at,
      message: `cannot ${what}: the kernel refused the VIP as source (${errno}); announce only after the VIP is on ${ifname}`,
    };
  if (errno === 'ENETDOWN')
    return {
      code: 'kernel',
      errno,
      ...at,
      message: `cannot ${what}: interface ${ifname} is down (ENETDOWN)`,
    };
  return {
    code: 'kernel',
    ...(errno ? { errno } : {}),
    ...at,
    message: `cannot ${what}: the kernel refused (${errno ?? detail})`,
  };
}
