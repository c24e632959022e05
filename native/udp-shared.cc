// The parts native/udp.cc (one batched socket) and native/udp-set.cc (a set
// of sockets behind one wake) share, each written once: errors, addresses in
// and out of the meta layout, opening a socket, and the N-API plumbing of a
// wrapped native object (calling back into JS, unwrapping `this`, arguments).

#include <node_api.h>
#include <uv.h>

#if defined(__linux__)

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp-shared.h"

namespace masq_udp {

bool ThrowIfFailed(napi_env env, napi_status status, const char* what) {
  return masq_native::ThrowIfFailed(env, status, "ERR_UDP_NAPI", what);
}

// Errors an ICMP message leaves on a socket (or a route that is down for one
// destination): about one peer, not the socket, so reading and sending go on.
bool IsTransient(int err) {
  switch (err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case ECONNRESET:
    case EPROTO:
    case EMSGSIZE:
    case ENOPROTOOPT:
    case ETIMEDOUT:
      return true;
    default:
      return false;
  }
}

void DeleteRef(napi_env env, napi_ref* ref) {
  if (*ref != nullptr) {
    napi_delete_reference(env, *ref);
    *ref = nullptr;
  }
}

bool IsDetached(napi_env env, napi_ref ref) {
  napi_value value;
  bool detached = true;
  if (napi_get_reference_value(env, ref, &value) != napi_ok || value == nullptr) return true;
  napi_is_detached_arraybuffer(env, value, &detached);
  return detached;
}

void AddressToMeta(const struct sockaddr_storage* ss, uint32_t* m) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* a = reinterpret_cast<const struct sockaddr_in*>(ss);
    m[kFamily] = 4;
    m[kPort] = ntohs(a->sin_port);
    m[kScope] = 0;
    m[kAddr0] = ntohl(a->sin_addr.s_addr);
    m[kAddr1] = m[kAddr2] = m[kAddr3] = 0;
  } else {
    const struct sockaddr_in6* a = reinterpret_cast<const struct sockaddr_in6*>(ss);
    m[kFamily] = 6;
    m[kPort] = ntohs(a->sin6_port);
    m[kScope] = a->sin6_scope_id;
    uint32_t w[4];
    memcpy(w, &a->sin6_addr, 16);
    m[kAddr0] = ntohl(w[0]);
    m[kAddr1] = ntohl(w[1]);
    m[kAddr2] = ntohl(w[2]);
    m[kAddr3] = ntohl(w[3]);
  }
}

// The destination of a queued entry as a sockaddr this socket can send to
// (an IPv4 destination from an IPv6 socket becomes ::ffff:a.b.c.d).
// Returns the sockaddr's length, 0 when the entry's family cannot be sent here.
socklen_t MetaToAddress(int sockFamily, const uint32_t* m, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof(struct sockaddr_in6));
  const uint32_t family = m[kFamily];
  if (sockFamily == 4) {
    if (family != 4) return 0;
    struct sockaddr_in* a = reinterpret_cast<struct sockaddr_in*>(ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(m[kPort]));
    a->sin_addr.s_addr = htonl(m[kAddr0]);
    return sizeof *a;
  }
  struct sockaddr_in6* a = reinterpret_cast<struct sockaddr_in6*>(ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(static_cast<uint16_t>(m[kPort]));
  uint32_t w[4];
  if (family == 4) {
    w[0] = 0;
    w[1] = 0;
    w[2] = htonl(0xffff);
    w[3] = htonl(m[kAddr0]);
  } else if (family == 6) {
    w[0] = htonl(m[kAddr0]);
    w[1] = htonl(m[kAddr1]);
    w[2] = htonl(m[kAddr2]);
    w[3] = htonl(m[kAddr3]);
    a->sin6_scope_id = m[kScope];
  } else {
    return 0;
  }
  memcpy(&a->sin6_addr, w, 16);
  return sizeof *a;
}

// The whole queue is checked before anything is sent, so a bad entry sends nothing at all.
bool ThrowIfBadQueue(napi_env env, const uint32_t* smeta, uint32_t count, size_t sendBytes) {
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t* m = smeta + i * kMetaStride;
    if (static_cast<uint64_t>(m[kOffset]) + m[kLength] > sendBytes || m[kPort] > 65535 ||
        (m[kFamily] != 4 && m[kFamily] != 6)) {
      char text[200];
      snprintf(text, sizeof text, "queued entry %u (offset %u, length %u, port %u, family %u) is invalid", i, m[kOffset],
               m[kLength], m[kPort], m[kFamily]);
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", text);
      return true;
    }
  }
  return false;
}

// A literal address ("%zone" allowed for IPv6) and a port as a sockaddr.
bool ParseBindAddress(int family, const char* text, uint32_t port, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  if (family == 4) {
    struct sockaddr_in* a = reinterpret_cast<struct sockaddr_in*>(ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *a;
    return inet_pton(AF_INET, text, &a->sin_addr) == 1;
  }
  struct sockaddr_in6* a = reinterpret_cast<struct sockaddr_in6*>(ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(static_cast<uint16_t>(port));
  *len = sizeof *a;
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  snprintf(host, sizeof host, "%s", text);
  char* zone = strchr(host, '%');
  if (zone != nullptr) {
    *zone++ = '\0';
    char* end;
    unsigned long id = strtoul(zone, &end, 10);
    a->sin6_scope_id = (*zone != '\0' && *end == '\0') ? static_cast<uint32_t>(id) : if_nametoindex(zone);
    if (a->sin6_scope_id == 0) return false;
  }
  return inet_pton(AF_INET6, host, &a->sin6_addr) == 1;
}

static int SetInt(int fd, int level, int name, int value) { return setsockopt(fd, level, name, &value, sizeof value); }

// Creates, configures and binds the socket; returns the fd or -errno (what
// names the failing call).
// GRO only where a slot holds a whole super-datagram: a truncated one would
// lose every datagram in it.
int OpenSocket(int family, const struct sockaddr_storage* ss, socklen_t len, uint32_t flags, uint32_t rcvbuf,
               uint32_t sndbuf, bool groSlotFits, bool* gso, bool* gro, const char** what) {
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *what = "socket";
    return -errno;
  }
  struct Option {
    bool wanted;
    int level, name, value;
    const char* what;
  } options[] = {
      {(flags & kReusePort) != 0, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)"},
      {rcvbuf > 0, SOL_SOCKET, SO_RCVBUF, static_cast<int>(rcvbuf), "setsockopt(SO_RCVBUF)"},
      {sndbuf > 0, SOL_SOCKET, SO_SNDBUF, static_cast<int>(sndbuf), "setsockopt(SO_SNDBUF)"},
      {family == 6, IPPROTO_IPV6, IPV6_V6ONLY, (flags & kV6Only) ? 1 : 0, "setsockopt(IPV6_V6ONLY)"},
      {(flags & kRecvErr) != 0 && family == 4, IPPROTO_IP, IP_RECVERR, 1, "setsockopt(IP_RECVERR)"},
      {(flags & kRecvErr) != 0 && family == 6, IPPROTO_IPV6, IPV6_RECVERR, 1, "setsockopt(IPV6_RECVERR)"},
  };
  for (const Option& o : options) {
    if (o.wanted && SetInt(fd, o.level, o.name, o.value) < 0) {
      int err = errno;
      close(fd);
      *what = o.what;
      return -err;
    }
  }
  // Older kernels say ENOPROTOOPT: then the socket simply does without.
  *gro = (flags & kGro) != 0 && groSlotFits && SetInt(fd, SOL_UDP, UDP_GRO, 1) == 0;
  *gso = (flags & kGso) != 0 && SetInt(fd, SOL_UDP, UDP_SEGMENT, 0) == 0;
  if (bind(fd, reinterpret_cast<const struct sockaddr*>(ss), len) < 0) {
    int err = errno;
    close(fd);
    *what = "bind";
    return -err;
  }
  return fd;
}

// ---------------------------------------------------------------- N-API plumbing

// A callback that throws has nobody to catch it (we are under libuv): hand it
// to Node's uncaught-exception machinery, as an EventEmitter listener would.
void CallJs(napi_env env, napi_async_context async, napi_ref self, napi_ref fnRef, size_t argc, napi_value* argv) {
  napi_value fn, recv, result;
  if (fnRef == nullptr || napi_get_reference_value(env, fnRef, &fn) != napi_ok || fn == nullptr) return;
  if (self == nullptr || napi_get_reference_value(env, self, &recv) != napi_ok || recv == nullptr) {
    napi_get_undefined(env, &recv);
  }
  if (napi_make_callback(env, async, recv, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

void CallOnError(napi_env env, napi_async_context async, napi_ref self, napi_ref* onError, int err,
                 const char* syscall) {
  napi_value argv[2];
  napi_create_int32(env, -err, &argv[0]);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &argv[1]);
  napi_ref fn = *onError;
  *onError = nullptr;
  CallJs(env, async, self, fn, 2, argv);
  if (fn != nullptr) napi_delete_reference(env, fn);
}

void* UnwrapThis(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv, const char* notThis) {
  napi_value self;
  if (ThrowIfFailed(env, napi_get_cb_info(env, info, argc, argv, &self, nullptr), "bad call")) return nullptr;
  void* data = nullptr;
  if (napi_unwrap(env, self, &data) != napi_ok || data == nullptr) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", notThis);
    return nullptr;
  }
  return data;
}

bool ThrowIfClosed(napi_env env, bool closed, const char* message) {
  if (!closed) return false;
  napi_throw_error(env, "ERR_SOCKET_DGRAM_NOT_RUNNING", message);
  return true;
}

bool GetUint32Args(napi_env env, size_t argc, napi_value* argv, const int* positions, uint32_t* const* out, int count,
                   const char* usage) {
  for (int k = 0; k < count; k++) {
    if (static_cast<size_t>(positions[k]) >= argc) {
      napi_throw_type_error(env, "ERR_MISSING_ARGS", usage);
      return false;
    }
  }
  for (int k = 0; k < count; k++) {
    if (napi_get_value_uint32(env, argv[positions[k]], out[k]) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
      return false;
    }
  }
  return true;
}

bool TakeCallbacks(napi_env env, size_t argc, napi_value* argv, napi_ref* const* refs, size_t count, const char* usage) {
  for (size_t i = 0; i < count; i++) {
    napi_valuetype type = napi_undefined;
    if (i < argc) napi_typeof(env, argv[i], &type);
    if (type != napi_function) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
      return false;
    }
  }
  for (size_t i = 0; i < count; i++) {
    DeleteRef(env, refs[i]);
    napi_create_reference(env, argv[i], 1, refs[i]);
  }
  return true;
}

// ---------------------------------------------------------------- bound sockets

int OpenBound(napi_env env, uint32_t family, const char* address, uint32_t port, uint32_t flags, uint32_t rcvbuf,
              uint32_t sndbuf, bool groSlotFits, bool* gso, bool* gro) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (!ParseBindAddress(static_cast<int>(family), address, port, &ss, &len)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", family == 4 ? "not an IPv4 address" : "not an IPv6 address");
    return -1;
  }
  const char* what = "";
  const int fd = OpenSocket(static_cast<int>(family), &ss, len, flags, rcvbuf, sndbuf, groSlotFits, gso, gro, &what);
  if (fd < 0) {
    char subject[INET6_ADDRSTRLEN + IF_NAMESIZE + 16];
    snprintf(subject, sizeof subject, family == 4 ? "%s:%u" : "[%s]:%u", address, port);
    ThrowSystemError(env, -fd, what, subject);
    return -1;
  }
  return fd;
}

void LocalAddress(int fd, char* text, size_t size, uint32_t* port) {
  struct sockaddr_storage bound;
  socklen_t boundLen = sizeof bound;
  memset(&bound, 0, sizeof bound);
  text[0] = '\0';
  *port = 0;
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&bound), &boundLen) < 0) return;
  if (bound.ss_family == AF_INET) {
    const struct sockaddr_in* a = reinterpret_cast<const struct sockaddr_in*>(&bound);
    inet_ntop(AF_INET, &a->sin_addr, text, static_cast<socklen_t>(size));
    *port = ntohs(a->sin_port);
  } else if (bound.ss_family == AF_INET6) {
    const struct sockaddr_in6* a = reinterpret_cast<const struct sockaddr_in6*>(&bound);
    inet_ntop(AF_INET6, &a->sin6_addr, text, static_cast<socklen_t>(size));
    *port = ntohs(a->sin6_port);
  }
}

}  // namespace masq_udp

#endif  // __linux__
