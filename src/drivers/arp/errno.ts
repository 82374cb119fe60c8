// raw-socket throws plain Errors carrying only strerror(3) text. The announcer's advice
// depends on the errno, so recover its name from the glibc messages it can meet.
const BY_MESSAGE: Record<string, string> = {
  'Operation not permitted': 'EPERM',
  'Permission denied': 'EACCES',
  'Address family not supported by protocol': 'EAFNOSUPPORT',
  'Protocol not supported': 'EPROTONOSUPPORT',
  'Socket type not supported': 'ESOCKTNOSUPPORT',
  'No such device': 'ENODEV',
  'No such device or address': 'ENXIO',
  'Cannot assign requested address': 'EADDRNOTAVAIL',
  'Invalid argument': 'EINVAL',
  'Network is down': 'ENETDOWN',
  'Network is unreachable': 'ENETUNREACH',
  'No buffer space available': 'ENOBUFS',
  'Message too long': 'EMSGSIZE',
};

/** The errno name of an error from the addon (its `code`) or from raw-socket (its message). */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  const message = (e as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? BY_MESSAGE[message] : undefined;
}
