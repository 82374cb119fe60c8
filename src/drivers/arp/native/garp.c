// The one piece of keepgit in C: an AF_PACKET socket, because Node has no way to put a
// whole Ethernet frame on a link, and a gratuitous ARP is not IP. Kept to what the
// announcer needs: open a socket bound to one interface, send a prepared frame on it,
// close it. Frames are built in TypeScript (garp-frame.ts); nothing here parses them.
//
// The socket is opened with protocol 0, so the kernel delivers no frames to it: it only
// sends, and never fills a receive buffer nobody reads. Sends are synchronous: one
// sendto(2) of 42 bytes takes microseconds, less than handing it to a thread would.
// Errors are thrown as JS errors whose `code` is the errno name, for the TS side to turn
// into error values with advice.

#include <errno.h>
#include <net/if.h>
#include <node_api.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *errno_name(int e) {
  switch (e) {
  case EPERM: return "EPERM";
  case EACCES: return "EACCES";
  case EAFNOSUPPORT: return "EAFNOSUPPORT";
  case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
  case ENODEV: return "ENODEV";
  case ENXIO: return "ENXIO";
  case ENETDOWN: return "ENETDOWN";
  case EBADF: return "EBADF";
  case EINVAL: return "EINVAL";
  case EMSGSIZE: return "EMSGSIZE";
  case ENOBUFS: return "ENOBUFS";
  case EAGAIN: return "EAGAIN";
  case EMFILE: return "EMFILE";
  default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(e));
  napi_throw_error(env, errno_name(e), message);
  return NULL;
}

static int int_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int32_t *out) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want ||
      napi_get_value_int32(env, argv[0], out) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected an integer first argument");
    return 0;
  }
  return 1;
}

// open(ifindex) -> fd
static napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t ifindex;
  if (!int_arg(env, info, 1, argv, &ifindex)) return NULL;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_PACKET, SOCK_RAW)", errno);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;
  sll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind(AF_PACKET)", e);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// send(fd, frame) -> bytes sent
static napi_value Send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  if (!int_arg(env, info, 2, argv, &fd)) return NULL;
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected a Buffer second argument");
    return NULL;
  }
  ssize_t sent;
  do sent = send(fd, data, length, 0);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return throw_errno(env, "send(AF_PACKET)", errno);
  napi_value result;
  napi_create_int32(env, (int32_t)sent, &result);
  return result;
}

// close(fd)
static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!int_arg(env, info, 1, argv, &fd)) return NULL;
  // Linux releases the descriptor even when close(2) reports EINTR: never retry.
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, "close(AF_PACKET)", errno);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, Send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
