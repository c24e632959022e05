// What native/udp.cc (one batched socket) and native/udp-set.cc (a set of
// sockets behind one wake) share: the per-datagram meta layout JS reads and
// writes, and the helpers that open sockets and move addresses in and out of
// it.
#pragma once

#include <node_api.h>
#include <stdint.h>
#include <sys/socket.h>

namespace masq_udp {

// Per datagram, uint32 words. For IPv4 the address is one host-order number
// in kAddr0; for IPv6 four, each a 32-bit big-endian group read as a number.
enum Meta {
  kOffset = 0,
  kLength,
  kPort,
  kFamily,   // 4 or 6
  kSegment,  // read: GRO segment size (0: one datagram); send: unused
  kScope,    // IPv6 scope id (0: none)
  kAddr0,
  kAddr1,
  kAddr2,
  kAddr3,
  kMetaStride
};

void ThrowSystemError(napi_env env, int err, const char* syscall, const char* subject);
bool ThrowIfFailed(napi_env env, napi_status status, const char* what);
// An error about one peer (an ICMP message), not the socket.
bool IsTransient(int err);
void AddressToMeta(const struct sockaddr_storage* ss, uint32_t* m);
// 0 when the entry's family cannot be sent from a socket of sockFamily.
socklen_t MetaToAddress(int sockFamily, const uint32_t* m, struct sockaddr_storage* ss);
napi_value CreateSharedArray(napi_env env, size_t bytes, void** data, napi_ref* ref, bool clear);
bool GetString(napi_env env, napi_value value, char* out, size_t size, const char* what);
bool ParseBindAddress(int family, const char* text, uint32_t port, struct sockaddr_storage* ss, socklen_t* len);
int OpenSocket(int family, const struct sockaddr_storage* ss, socklen_t len, uint32_t flags, uint32_t rcvbuf,
               uint32_t sndbuf, bool groSlotFits, bool* gso, bool* gro, const char** what);

// Throws a RangeError naming the first queued entry (of count) that cannot be sent.
bool ThrowIfBadQueue(napi_env env, const uint32_t* smeta, uint32_t count, size_t sendBytes);

// Adds UdpSet to the module's exports (udp-set.cc).
void RegisterUdpSet(napi_env env, napi_value exports);

}  // namespace masq_udp
