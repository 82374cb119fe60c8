// Health-check connections below Node's net module. At thousands of checks a second, a
// net.Socket per attempt (stream state, handles, promises, buffers) costs more than the
// check itself; this makes the same connections with one non-blocking socket, a libuv
// poll handle and a timer each, and reports to JavaScript with one callback per event.
//
// Two kinds of attempt:
// - a connect probe (TCP_CHECK, no request): TCP_QUICKACK is turned off before connect(),
//   so the kernel holds back the ACK of the server's SYN-ACK; the socket is then closed
//   with SO_LINGER 0, so a reset goes out instead of that ACK. The server's kernel answered
//   the SYN from its listening socket (which is all a TCP check asks), and the server
//   application never sees a connection: three packets instead of seven and nothing to
//   accept. HAProxy's TCP checks do the same.
// - an exchange (plain HTTP_GET): connect, write the request, hand every chunk read to
//   JavaScript until the server closes; JavaScript parses, and cancels when it has enough.
//
// JavaScript gives every attempt an integer id and registers one callback, called as
// (id, event, value): 1 up (connect probe done), 2 data (value: a Buffer), 3 end (the
// server closed), 4 error (value: "connect ECONNREFUSED", "read ECONNRESET", ...),
// 5 timeout (value: the phase, "connect" or "read"). After 1, 3, 4 or 5 the attempt is
// over and its socket closed; cancel(id) ends one silently. Nothing here throws for a
// network outcome: an immediate failure is start()'s return value.

#include <errno.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

enum { EV_UP = 1, EV_DATA = 2, EV_END = 3, EV_ERROR = 4, EV_TIMEOUT = 5 };
enum { PHASE_CONNECT, PHASE_WRITE, PHASE_READ };

struct probe_state;

struct probe {
  struct probe *prev, *next;
  struct probe_state *st;
  int32_t id;
  int fd;
  int phase;
  int done;
  int open_handles;
  uv_poll_t poll;
  uv_timer_t timer;
  char *request;
  size_t request_len, request_off;
};

struct probe_state {
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  uv_loop_t *loop;
  struct probe live;  // sentinel of the list of attempts in progress
};

static void on_handle_closed(uv_handle_t *h) {
  struct probe *p = h->data;
  if (--p->open_handles == 0) {
    free(p->request);
    free(p);
  }
}

// Ends an attempt: out of the list, handles closed, socket closed. The struct lives on
// until libuv has closed both handles, so a caller up the stack may still read `done`.
static void finish(struct probe *p) {
  if (p->done) return;
  p->done = 1;
  p->prev->next = p->next;
  p->next->prev = p->prev;
  // uv_close takes the descriptor out of epoll at once, so closing it right after is safe.
  uv_close((uv_handle_t *)&p->poll, on_handle_closed);
  uv_close((uv_handle_t *)&p->timer, on_handle_closed);
  close(p->fd);
}

static void emit(struct probe *p, int event, napi_value (*make_value)(napi_env, void *), void *arg) {
  struct probe_state *st = p->st;
  napi_env env = st->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[3], result;
  if (napi_get_reference_value(env, st->callback, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);  // make_callback needs an object as `this`
    napi_create_int32(env, p->id, &argv[0]);
    napi_create_int32(env, event, &argv[1]);
    if (make_value) argv[2] = make_value(env, arg);
    else napi_get_undefined(env, &argv[2]);
    // make_callback, not call_function: it runs the microtask queue afterwards, so the
    // promises the callback settles go on at once, as after any libuv callback of Node's.
    if (napi_make_callback(env, st->context, recv, cb, 3, argv, &result) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static napi_value string_value(napi_env env, void *arg) {
  napi_value v;
  napi_create_string_utf8(env, (const char *)arg, NAPI_AUTO_LENGTH, &v);
  return v;
}

struct chunk {
  const char *data;
  size_t length;
};

static napi_value buffer_value(napi_env env, void *arg) {
  struct chunk *c = arg;
  napi_value v;
  void *copy;
  napi_create_buffer_copy(env, c->length, c->data, &copy, &v);
  return v;
}

static const char *phase_name(int phase) {
  return phase == PHASE_CONNECT ? "connect" : phase == PHASE_WRITE ? "write" : "read";
}

static void fail(struct probe *p, int phase, int err) {
  char text[64];
  snprintf(text, sizeof text, "%s %s", phase_name(phase), uv_err_name(-err));
  finish(p);
  emit(p, EV_ERROR, string_value, text);
}

static void on_timeout(uv_timer_t *t) {
  struct probe *p = t->data;
  const char *phase = p->phase == PHASE_CONNECT ? "connect" : "read";
  finish(p);
  emit(p, EV_TIMEOUT, string_value, (void *)phase);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void read_some(struct probe *p) {
  char buf[65536];
  // Level-triggered: what is left after a few reads is reported again on the next turn.
  for (int i = 0; i < 16 && !p->done; i++) {
    ssize_t n = read(p->fd, buf, sizeof buf);
    if (n > 0) {
      struct chunk c = {buf, (size_t)n};
      emit(p, EV_DATA, buffer_value, &c);
      continue;
    }
    if (n == 0) {
      finish(p);
      emit(p, EV_END, NULL, NULL);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    fail(p, PHASE_READ, errno);
    return;
  }
}

static void write_some(struct probe *p) {
  while (p->request_off < p->request_len) {
    ssize_t n = send(p->fd, p->request + p->request_off, p->request_len - p->request_off, MSG_NOSIGNAL);
    if (n >= 0) {
      p->request_off += (size_t)n;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // the poll stays on UV_WRITABLE
    fail(p, PHASE_WRITE, errno);
    return;
  }
  p->phase = PHASE_READ;
  uv_poll_start(&p->poll, UV_READABLE, on_poll);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct probe *p = h->data;
  (void)events;
  if (p->done) return;
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF: the socket's own error says what happened.
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0) err = -status;
    fail(p, p->phase, err);
    return;
  }
  if (p->phase == PHASE_CONNECT) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err != 0) {
      fail(p, PHASE_CONNECT, err);
      return;
    }
    if (p->request == NULL) {
      struct linger reset = {1, 0};
      setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      finish(p);
      emit(p, EV_UP, NULL, NULL);
      return;
    }
    p->phase = PHASE_WRITE;
  }
  if (p->phase == PHASE_WRITE) write_some(p);
  else read_some(p);
}

static struct probe_state *state_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

static int get_string(napi_env env, napi_value v, char *out, size_t size) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, out, size, &len) != napi_ok) return 0;
  return len < size - 1;
}

static int fill_address(int family, const char *text, int port, const char *scope,
                        struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (text[0] != '\0' && inet_pton(AF_INET, text, &a->sin_addr) != 1) return 0;
    *len = sizeof *a;
    return 1;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  if (text[0] != '\0' && inet_pton(AF_INET6, text, &a->sin6_addr) != 1) return 0;
  if (scope[0] != '\0') a->sin6_scope_id = if_nametoindex(scope);
  *len = sizeof *a;
  return 1;
}

static napi_value result_string(napi_env env, const char *text) {
  napi_value v;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value errno_result(napi_env env, const char *what, int err) {
  char text[80];
  snprintf(text, sizeof text, "%s %s", what, uv_err_name(-err));
  return result_string(env, text);
}

// start(id, family, address, port, bindAddress, bindPort, scopeInterface, timeoutMs, request|null)
//   -> undefined when under way, else the reason it could not start
static napi_value Start(napi_env env, napi_callback_info info) {
  struct probe_state *st = state_of(env);
  size_t argc = 9;
  napi_value argv[9];
  int32_t id, family, port, bind_port, timeout_ms;
  char address[64], bind_address[64], scope[IF_NAMESIZE + 1];
  if (st == NULL || st->callback == NULL) {
    napi_throw_error(env, "EINVAL", "tcp-probe: init(callback) first");
    return NULL;
  }
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 9 ||
      napi_get_value_int32(env, argv[0], &id) != napi_ok ||
      napi_get_value_int32(env, argv[1], &family) != napi_ok ||
      !get_string(env, argv[2], address, sizeof address) ||
      napi_get_value_int32(env, argv[3], &port) != napi_ok ||
      !get_string(env, argv[4], bind_address, sizeof bind_address) ||
      napi_get_value_int32(env, argv[5], &bind_port) != napi_ok ||
      !get_string(env, argv[6], scope, sizeof scope) ||
      napi_get_value_int32(env, argv[7], &timeout_ms) != napi_ok || (family != 4 && family != 6)) {
    napi_throw_type_error(env, "EINVAL", "tcp-probe: bad arguments to start()");
    return NULL;
  }
  void *request_data = NULL;
  size_t request_len = 0;
  napi_valuetype request_type;
  napi_typeof(env, argv[8], &request_type);
  if (request_type != napi_null && request_type != napi_undefined &&
      napi_get_buffer_info(env, argv[8], &request_data, &request_len) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "tcp-probe: the request must be a Buffer or null");
    return NULL;
  }

  struct sockaddr_storage to, from;
  socklen_t to_len, from_len;
  if (address[0] == '\0' || !fill_address(family, address, port, scope, &to, &to_len))
    return result_string(env, "connect invalid address");
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_result(env, "socket", errno);
  if (request_data == NULL) {
    int off = 0;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof off);
  }
  if (bind_address[0] != '\0' || bind_port != 0) {
    if (!fill_address(family, bind_address, bind_port, scope, &from, &from_len)) {
      close(fd);
      return result_string(env, "bind invalid address");
    }
    if (bind(fd, (struct sockaddr *)&from, from_len) < 0) {
      int e = errno;
      close(fd);
      return errno_result(env, "bind", e);
    }
  }
  if (connect(fd, (struct sockaddr *)&to, to_len) < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    return errno_result(env, "connect", e);
  }

  struct probe *p = calloc(1, sizeof *p);
  if (p == NULL) {
    close(fd);
    return errno_result(env, "connect", ENOMEM);
  }
  if (request_data != NULL) {
    p->request = malloc(request_len ? request_len : 1);
    if (p->request == NULL) {
      free(p);
      close(fd);
      return errno_result(env, "connect", ENOMEM);
    }
    memcpy(p->request, request_data, request_len);
    p->request_len = request_len;
  }
  p->st = st;
  p->id = id;
  p->fd = fd;
  p->phase = PHASE_CONNECT;
  if (uv_poll_init_socket(st->loop, &p->poll, fd) != 0) {
    free(p->request);
    free(p);
    close(fd);
    return errno_result(env, "connect", EIO);
  }
  uv_timer_init(st->loop, &p->timer);
  p->poll.data = p;
  p->timer.data = p;
  p->open_handles = 2;
  p->next = st->live.next;
  p->prev = &st->live;
  st->live.next->prev = p;
  st->live.next = p;
  uv_poll_start(&p->poll, UV_WRITABLE, on_poll);
  uv_timer_start(&p->timer, on_timeout, (uint64_t)(timeout_ms > 0 ? timeout_ms : 1), 0);
  return NULL;
}

// cancel(id): ends an attempt without an event (the abort signal's path).
static napi_value Cancel(napi_env env, napi_callback_info info) {
  struct probe_state *st = state_of(env);
  size_t argc = 1;
  napi_value argv[1];
  int32_t id;
  if (st == NULL || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &id) != napi_ok)
    return NULL;
  for (struct probe *p = st->live.next; p != &st->live; p = p->next)
    if (p->id == id) {
      finish(p);
      break;
    }
  return NULL;
}

// active() -> the number of attempts in progress (tests check that nothing leaks).
static napi_value Active(napi_env env, napi_callback_info info) {
  (void)info;
  struct probe_state *st = state_of(env);
  int32_t n = 0;
  if (st != NULL)
    for (struct probe *p = st->live.next; p != &st->live; p = p->next) n++;
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

// init(callback): the one function every event is reported to.
static napi_value Init_(napi_env env, napi_callback_info info) {
  struct probe_state *st = state_of(env);
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t;
  if (st == NULL || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "EINVAL", "tcp-probe: init(callback) needs a function");
    return NULL;
  }
  if (st->callback != NULL) napi_delete_reference(env, st->callback);
  napi_create_reference(env, argv[0], 1, &st->callback);
  return NULL;
}

static void finalize_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  // Only at the environment's end, when its loop no longer runs our handles.
  free(data);
}

static napi_value Init(napi_env env, napi_value exports) {
  struct probe_state *st = calloc(1, sizeof *st);
  if (st == NULL) return exports;
  st->env = env;
  st->live.next = st->live.prev = &st->live;
  napi_get_uv_event_loop(env, &st->loop);
  napi_value name;
  napi_create_string_utf8(env, "keepgit:tcp-probe", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &st->context);
  napi_set_instance_data(env, st, finalize_state, NULL);
  napi_property_descriptor props[] = {
      {"init", NULL, Init_, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, Start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cancel", NULL, Cancel, NULL, NULL, NULL, napi_enumerable, NULL},
      {"active", NULL, Active, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
