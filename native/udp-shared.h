// What native/udp.cc (one batched socket) and native/udp-set.cc (a set of
// sockets behind one wake) share, defined once in native/udp-shared.cc: the
// per-datagram meta layout JS reads and writes, the helpers that open sockets
// and move addresses in and out of it, and the N-API plumbing of a wrapped
// native object.
#pragma once

#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "napi-shared.h"

// Older headers lack the UDP GSO/GRO options (the kernel says ENOPROTOOPT where it lacks them).
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

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

enum Flag : uint32_t {
  kReusePort = 1,  // SO_REUSEPORT: several sockets (processes) share the port
  kGro = 2,        // UDP_GRO if the kernel has it
  kGso = 4,        // UDP_SEGMENT on send if the kernel has it
  kRecvErr = 8,    // IP_RECVERR / IPV6_RECVERR: ICMP errors reported (and counted)
  kV6Only = 16,    // IPV6_V6ONLY (default: dual-stack, as node:dgram)
};

// Zeroed memory for count items (at least one, so nullptr always means failure).
template <typename T>
T* Alloc(size_t count) {
  return static_cast<T*>(calloc(count == 0 ? 1 : count, sizeof(T)));
}

using masq_native::ThrowSystemError;
bool ThrowIfFailed(napi_env env, napi_status status, const char* what);
// An error about one peer (an ICMP message), not the socket.
bool IsTransient(int err);
void AddressToMeta(const struct sockaddr_storage* ss, uint32_t* m);
// 0 when the entry's family cannot be sent from a socket of sockFamily.
socklen_t MetaToAddress(int sockFamily, const uint32_t* m, struct sockaddr_storage* ss);
using masq_native::CreateSharedArray;
using masq_native::GetString;
bool ParseBindAddress(int family, const char* text, uint32_t port, struct sockaddr_storage* ss, socklen_t* len);

// Creates, configures and binds a socket; returns the fd or -errno (*what names the failing call).
int OpenSocket(int family, const struct sockaddr_storage* ss, socklen_t len, uint32_t flags, uint32_t rcvbuf,
               uint32_t sndbuf, bool groSlotFits, bool* gso, bool* gro, const char** what);
// The same from JS's arguments: the fd, or -1 with a JS error thrown (naming address:port).
int OpenBound(napi_env env, uint32_t family, const char* address, uint32_t port, uint32_t flags, uint32_t rcvbuf,
              uint32_t sndbuf, bool groSlotFits, bool* gso, bool* gro);
// The address (text) and port a socket is bound to.
void LocalAddress(int fd, char* text, size_t size, uint32_t* port);

// N-API plumbing of a wrapped object (a socket, a set).
void DeleteRef(napi_env env, napi_ref* ref);
bool IsDetached(napi_env env, napi_ref ref);
// Calls fnRef with self as `this` in the object's async context; an exception it throws is uncaught.
void CallJs(napi_env env, napi_async_context async, napi_ref self, napi_ref fnRef, size_t argc, napi_value* argv);
// Calls *onError(-err, syscall) once: the reference is dropped first.
void CallOnError(napi_env env, napi_async_context async, napi_ref self, napi_ref* onError, int err,
                 const char* syscall);
// The native object behind `this`, or nullptr with a TypeError (notThis) thrown.
void* UnwrapThis(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv, const char* notThis);
bool ThrowIfClosed(napi_env env, bool closed, const char* message);
// argv[positions[k]] into *out[k] as uint32, k < count; false with a TypeError (usage) thrown.
bool GetUint32Args(napi_env env, size_t argc, napi_value* argv, const int* positions, uint32_t* const* out, int count,
                   const char* usage);
// argv[0..count-1] must be functions; each replaces the callback in *refs[i].
bool TakeCallbacks(napi_env env, size_t argc, napi_value* argv, napi_ref* const* refs, size_t count, const char* usage);

// Throws a RangeError naming the first queued entry (of count) that cannot be sent.
bool ThrowIfBadQueue(napi_env env, const uint32_t* smeta, uint32_t count, size_t sendBytes);

// Adds UdpSet to the module's exports (udp-set.cc).
void RegisterUdpSet(napi_env env, napi_value exports);

}  // namespace masq_udp
