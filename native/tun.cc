// masq_tun: a Linux TUN device read and written in batches from Node's main
// event loop.
//
// Why this shape: a TUN fd delivers one packet per read() and takes one per
// write(). Going through fs.read costs a threadpool round trip per packet
// (~60k pps). Here the fd is non-blocking and watched with uv_poll on the main
// loop; each readable wake drains up to `batchSize` packets into one
// preallocated buffer and crosses into JS once. Writes take a whole batch per
// JS call. Nothing blocks, nothing runs off the main thread.
//
// Offload mode (IFF_VNET_HDR): every packet read or written is preceded by a
// 10-byte struct virtio_net_hdr, and the device announces checksum offload and
// TSO (and USO where the kernel has it). The kernel then hands over TCP
// super-packets of up to 64 KiB with a partial checksum instead of segmenting
// them first, and takes them back the same way: one read and one write where
// there would be 40 of each.
//
// JS surface (wrapped by src/dataplane/tun/device.ts; that file is the API):
//   new TunHandle(path, name, multiQueue, mtu, batchSize, flags)   opens the device
//       flags: kOpenOffload (IFF_VNET_HDR + offloads)
//   .name .fd .batchSize .maxPacketSize .vnetHeaderSize .offloads   plain values
//   .readBuffer (ArrayBuffer)                                 packets of a wake, packed
//   .readOffsets / .readLengths (ArrayBuffer, batchSize x uint32)   filled on each wake:
//                                                             packet i (the IP packet, its
//                                                             virtio header just before it)
//   .counters (ArrayBuffer, kCounterCount x float64)          see enum Counter
//   .start(onPackets(count), onError(negErrno, syscall))      begin polling
//   .stop()                                                   stop polling
//   .writeBatch(u8, offsetsU32, lengthsU32, count) -> number  packets consumed; in offload
//                                                             mode each packet is written
//                                                             with the header before it
//   .write(u8[, headerU8]) -> 1 written, 0 queue full, -errno rejected
//   .readNow() -> number                                      packets read now into the
//                                                             shared buffer (busy polling)
//   .close()                                                  idempotent
//   module: .abiVersion .counterCount .openOffload
//           .steeringAttach .steeringDetach .steeringSet .steeringClose (tun_steering.cc)

#include <node_api.h>
#include <uv.h>

#if defined(__linux__)

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include "napi-shared.h"

// Newer than some distributions' <linux/if_tun.h> (USO: Linux 6.2).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef TUNSETVNETLE
#define TUNSETVNETLE _IOW('T', 220, int)
#endif

namespace {

// Bumped whenever the JS surface changes, so a stale build is refused by name.
constexpr uint32_t kAbiVersion = 4;
constexpr uint32_t kMaxBatch = 1024;
constexpr uint32_t kPacketAlign = 64;  // each packet of a wake starts on its own cache line
constexpr int kMaxEintrRetries = 8;
constexpr uint32_t kMaxIpPacket = 65535;

// struct virtio_net_hdr without the v1 num_buffers field: tun fills exactly
// these 10 bytes (it skips, without writing, any header bytes beyond them),
// and num_buffers only means something to mergeable-rx-buffer guests.
constexpr uint32_t kVnetHeaderSize = 10;

enum OpenFlag : uint32_t {
  kOpenOffload = 1,  // IFF_VNET_HDR, checksum offload, TSO (and USO when available)
};

// Shared with JS as a Float64Array: doubles count exactly to 2^53.
enum Counter {
  kWakes = 0,
  kPacketsRead,
  kReadTruncated,   // packet longer than a slot: dropped, never half-delivered
  kPacketsWritten,
  kWriteRejected,   // the kernel refused the packet (EINVAL for non-IP, ...)
  kWriteQueueFull,  // times a write hit EAGAIN
  kLastWriteErrno,  // positive errno of the last rejected write, 0 if none
  kBusyPollHits,    // readNow() calls that found packets (busy polling)
  kCounterCount
};

struct Tun {
  napi_env env = nullptr;
  int fd = -1;
  uv_poll_t poll;
  bool polling = false;
  bool closed = false;         // fd closed, poll handle closing
  bool handleClosed = false;   // libuv close callback has run
  bool finalized = false;      // the JS object has been collected
  napi_ref self = nullptr;     // weak; strong while polling so the device is not collected
  napi_ref onPackets = nullptr;
  napi_ref onError = nullptr;
  napi_ref readBuffer = nullptr;
  napi_ref readLengths = nullptr;
  napi_ref counters = nullptr;
  napi_async_context async = nullptr;
  // Registered for the handle's whole life, so a worker that ends waits for
  // the libuv close callback before Node unloads this library.
  napi_async_cleanup_hook_handle cleanupHook = nullptr;
  napi_ref readOffsets = nullptr;
  uint8_t* readData = nullptr;
  size_t readBytes = 0;
  uint32_t* offsets = nullptr;
  uint32_t* lengths = nullptr;
  double* counter = nullptr;
  uint32_t maxRead = 0;     // header + largest packet + 1: a read that fills it was truncated
  uint32_t vnetHeaderSize = 0;
  uint32_t batchSize = 0;
  char name[IFNAMSIZ] = {0};
};

// ---------------------------------------------------------------- errors

using masq_native::CreateSharedArray;
using masq_native::GetString;
using masq_native::ThrowSystemError;

bool ThrowIfFailed(napi_env env, napi_status status, const char* what) {
  return masq_native::ThrowIfFailed(env, status, "ERR_TUN_NAPI", what);
}

// ---------------------------------------------------------------- lifecycle

void DeleteRef(napi_env env, napi_ref* ref) {
  if (*ref != nullptr) {
    napi_delete_reference(env, *ref);
    *ref = nullptr;
  }
}

void OnHandleClosed(uv_handle_t* handle) {
  Tun* dev = static_cast<Tun*>(handle->data);
  dev->handleClosed = true;
  if (dev->cleanupHook != nullptr) {
    napi_remove_async_cleanup_hook(dev->cleanupHook);
    dev->cleanupHook = nullptr;
  }
  if (dev->finalized) delete dev;
}

void StopPolling(Tun* dev) {
  if (!dev->polling) return;
  uv_poll_stop(&dev->poll);
  dev->polling = false;
  if (dev->self != nullptr) napi_reference_unref(dev->env, dev->self, nullptr);
}

// Closing the last fd of a non-persistent TUN makes the kernel delete the
// interface, so this is also what removes the device.
void CloseTun(Tun* dev) {
  if (dev->closed) return;
  dev->closed = true;
  StopPolling(dev);
  uv_close(reinterpret_cast<uv_handle_t*>(&dev->poll), OnHandleClosed);
  close(dev->fd);
  dev->fd = -1;
  DeleteRef(dev->env, &dev->onPackets);
  DeleteRef(dev->env, &dev->onError);
  if (dev->async != nullptr) {
    napi_async_destroy(dev->env, dev->async);
    dev->async = nullptr;
  }
}

// The environment is going away (process exit, worker termination): release
// the fd and the poll handle. Node keeps running the loop until
// OnHandleClosed removes the hook, so the close callback never runs after
// this library has been unloaded.
void AsyncCleanupHook(napi_async_cleanup_hook_handle handle, void* data) {
  Tun* dev = static_cast<Tun*>(data);
  dev->cleanupHook = handle;
  CloseTun(dev);
}

void Finalize(napi_env env, void* data, void* /*hint*/) {
  Tun* dev = static_cast<Tun*>(data);
  dev->finalized = true;
  CloseTun(dev);
  DeleteRef(env, &dev->readBuffer);
  DeleteRef(env, &dev->readOffsets);
  DeleteRef(env, &dev->readLengths);
  DeleteRef(env, &dev->counters);
  DeleteRef(env, &dev->self);
  if (dev->handleClosed) delete dev;
}

// ---------------------------------------------------------------- calling JS

// A callback that throws has nobody to catch it (we are under libuv): hand it
// to Node's uncaught-exception machinery, as an EventEmitter listener would.
void CallJs(Tun* dev, napi_ref fnRef, size_t argc, napi_value* argv) {
  napi_env env = dev->env;
  napi_value fn, recv;
  if (fnRef == nullptr || napi_get_reference_value(env, fnRef, &fn) != napi_ok || fn == nullptr) return;
  if (dev->self == nullptr || napi_get_reference_value(env, dev->self, &recv) != napi_ok || recv == nullptr) {
    napi_get_undefined(env, &recv);
  }
  napi_value result;
  napi_status status = napi_make_callback(env, dev->async, recv, fn, argc, argv, &result);
  if (status == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

void ReportError(Tun* dev, int err, const char* syscall) {
  StopPolling(dev);
  napi_value argv[2];
  napi_create_int32(dev->env, -err, &argv[0]);
  napi_create_string_utf8(dev->env, syscall, NAPI_AUTO_LENGTH, &argv[1]);
  CallJs(dev, dev->onError, 2, argv);
}

bool IsDetached(napi_env env, napi_ref ref) {
  napi_value value;
  bool detached = true;
  if (napi_get_reference_value(env, ref, &value) != napi_ok || value == nullptr) return true;
  napi_is_detached_arraybuffer(env, value, &detached);
  return detached;
}

// ---------------------------------------------------------------- reading

// Reads what the fd holds now (up to batchSize packets) into the shared buffer
// and returns how many; *readError is set to an errno other than EAGAIN.
uint32_t ReadInto(Tun* dev, int* readError) {
  // Packets are packed one after the other (each on a cache-line boundary)
  // rather than given fixed 64 KiB slots: a wake of small packets touches a
  // few pages, not megabytes. A read is only started where a packet of the
  // largest size still fits, so the buffer (batchSize reads of maxRead) never
  // limits the batch.
  uint32_t count = 0;
  int eintr = 0;
  const size_t hdr = dev->vnetHeaderSize;
  size_t cursor = 0;
  for (uint32_t attempt = 0; attempt < dev->batchSize && dev->readBytes - cursor >= dev->maxRead; attempt++) {
    uint8_t* at = dev->readData + cursor;
    ssize_t n = read(dev->fd, at, dev->maxRead);
    if (n < 0) {
      if (errno == EINTR && eintr++ < kMaxEintrRetries) {
        attempt--;
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) *readError = errno;
      break;
    }
    // tun copies what fits and returns the packet's whole length, so a read
    // that fills maxRead (one byte more than the largest packet it is meant
    // for) did not fit: dropped whole rather than half-delivered.
    if (static_cast<size_t>(n) >= dev->maxRead) {
      dev->counter[kReadTruncated] += 1;
      continue;
    }
    if (static_cast<size_t>(n) <= hdr) continue;  // no packet after the header
    dev->offsets[count] = static_cast<uint32_t>(cursor + hdr);
    dev->lengths[count] = static_cast<uint32_t>(n - hdr);
    count++;
    cursor += (static_cast<size_t>(n) + kPacketAlign - 1) / kPacketAlign * kPacketAlign;
  }
  return count;
}

void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  Tun* dev = static_cast<Tun*>(handle->data);
  if (dev->closed || !dev->polling) return;
  napi_env env = dev->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  if (status < 0) {
    ReportError(dev, -status, "poll");
    napi_close_handle_scope(env, scope);
    return;
  }
  // The buffers are shared with JS; if someone transferred one to a worker its
  // memory is no longer ours to write.
  if (IsDetached(env, dev->readBuffer) || IsDetached(env, dev->readOffsets) || IsDetached(env, dev->readLengths) ||
      IsDetached(env, dev->counters)) {
    ReportError(dev, EFAULT, "read (buffer detached)");
    napi_close_handle_scope(env, scope);
    return;
  }

  int readError = 0;
  uint32_t count = ReadInto(dev, &readError);
  dev->counter[kWakes] += 1;
  dev->counter[kPacketsRead] += count;

  if (count > 0) {
    napi_value argv[1];
    napi_create_uint32(env, count, &argv[0]);
    CallJs(dev, dev->onPackets, 1, argv);
  }
  if (readError != 0 && !dev->closed) ReportError(dev, readError, "read");
  napi_close_handle_scope(env, scope);
}

// ---------------------------------------------------------------- writing

// Returns 1 when written, 0 when the device queue is full, -errno when the
// kernel rejected the packet.
int WriteResult(Tun* dev, ssize_t n) {
  if (n >= 0) {
    dev->counter[kPacketsWritten] += 1;
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    dev->counter[kWriteQueueFull] += 1;
    return 0;
  }
  dev->counter[kWriteRejected] += 1;
  dev->counter[kLastWriteErrno] = errno;
  return -errno;
}

int WriteOne(Tun* dev, const uint8_t* data, size_t length) {
  ssize_t n;
  int tries = 0;
  do n = write(dev->fd, data, length);
  while (n < 0 && errno == EINTR && tries++ < kMaxEintrRetries);
  return WriteResult(dev, n);
}

// One packet whose virtio header lives apart from it (tun reads the whole
// iovec as one packet).
int WriteWithHeader(Tun* dev, const uint8_t* header, const uint8_t* data, size_t length) {
  struct iovec iov[2];
  iov[0].iov_base = const_cast<uint8_t*>(header);
  iov[0].iov_len = dev->vnetHeaderSize;
  iov[1].iov_base = const_cast<uint8_t*>(data);
  iov[1].iov_len = length;
  ssize_t n;
  int tries = 0;
  do n = writev(dev->fd, iov, 2);
  while (n < 0 && errno == EINTR && tries++ < kMaxEintrRetries);
  return WriteResult(dev, n);
}

bool GetTypedArray(napi_env env, napi_value value, napi_typedarray_type want, const char* what, void** data,
                   size_t* length) {
  bool isTyped = false;
  napi_is_typedarray(env, value, &isTyped);
  napi_typedarray_type type;
  napi_value arrayBuffer;
  size_t byteOffset;
  if (!isTyped || napi_get_typedarray_info(env, value, &type, length, data, &arrayBuffer, &byteOffset) != napi_ok ||
      type != want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return false;
  }
  if (*data == nullptr && *length > 0) {
    napi_throw_type_error(env, "ERR_INVALID_STATE", "buffer is detached");
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- methods

Tun* Unwrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  if (ThrowIfFailed(env, napi_get_cb_info(env, info, argc, argv, &self, nullptr), "bad call")) return nullptr;
  void* data = nullptr;
  if (napi_unwrap(env, self, &data) != napi_ok || data == nullptr) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "not a TunHandle");
    return nullptr;
  }
  return static_cast<Tun*>(data);
}

bool ThrowIfClosed(napi_env env, Tun* dev) {
  if (!dev->closed) return false;
  napi_throw_error(env, "ERR_TUN_CLOSED", "TUN device is closed");
  return true;
}

napi_value Start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Tun* dev = Unwrap(env, info, &argc, argv);
  if (dev == nullptr || ThrowIfClosed(env, dev)) return nullptr;
  for (size_t i = 0; i < 2; i++) {
    napi_valuetype type = napi_undefined;
    if (i < argc) napi_typeof(env, argv[i], &type);
    if (type != napi_function) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "start(onPackets, onError) takes two functions");
      return nullptr;
    }
  }
  DeleteRef(env, &dev->onPackets);
  DeleteRef(env, &dev->onError);
  napi_create_reference(env, argv[0], 1, &dev->onPackets);
  napi_create_reference(env, argv[1], 1, &dev->onError);
  if (!dev->polling) {
    int rc = uv_poll_start(&dev->poll, UV_READABLE, OnReadable);
    if (rc != 0) {
      ThrowSystemError(env, -rc, "uv_poll_start", dev->name);
      return nullptr;
    }
    dev->polling = true;
    napi_reference_ref(env, dev->self, nullptr);
  }
  return nullptr;
}

napi_value Stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Tun* dev = Unwrap(env, info, &argc, nullptr);
  if (dev != nullptr) StopPolling(dev);
  return nullptr;
}

napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Tun* dev = Unwrap(env, info, &argc, nullptr);
  if (dev != nullptr) CloseTun(dev);
  return nullptr;
}

// readNow(): the packets waiting now, read synchronously into the shared
// buffer (the caller hands them to its handler); 0 when there are none. For a
// short busy-poll after a batch, which saves the epoll round trip when the next
// packet is already on its way. A read error stops polling and is thrown.
napi_value ReadNow(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Tun* dev = Unwrap(env, info, &argc, nullptr);
  if (dev == nullptr || ThrowIfClosed(env, dev)) return nullptr;
  if (IsDetached(env, dev->readBuffer) || IsDetached(env, dev->readOffsets) || IsDetached(env, dev->readLengths) ||
      IsDetached(env, dev->counters)) {
    ThrowSystemError(env, EFAULT, "read (buffer detached)", dev->name);
    return nullptr;
  }
  int readError = 0;
  uint32_t count = ReadInto(dev, &readError);
  dev->counter[kPacketsRead] += count;
  if (count > 0) dev->counter[kBusyPollHits] += 1;
  if (readError != 0 && count == 0) {
    ThrowSystemError(env, readError, "read", dev->name);
    return nullptr;
  }
  napi_value result;
  napi_create_uint32(env, count, &result);
  return result;
}

napi_value WriteBatch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  Tun* dev = Unwrap(env, info, &argc, argv);
  if (dev == nullptr || ThrowIfClosed(env, dev)) return nullptr;
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "writeBatch(buffer, offsets, lengths, count)");
    return nullptr;
  }
  void* bufData;
  void* offData;
  void* lenData;
  size_t bufLength, offCount, lenCount;
  if (!GetTypedArray(env, argv[0], napi_uint8_array, "buffer must be a Uint8Array", &bufData, &bufLength) ||
      !GetTypedArray(env, argv[1], napi_uint32_array, "offsets must be a Uint32Array", &offData, &offCount) ||
      !GetTypedArray(env, argv[2], napi_uint32_array, "lengths must be a Uint32Array", &lenData, &lenCount)) {
    return nullptr;
  }
  uint32_t count;
  if (napi_get_value_uint32(env, argv[3], &count) != napi_ok || count > offCount || count > lenCount) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "count must be a number no larger than offsets and lengths");
    return nullptr;
  }
  const uint8_t* base = static_cast<const uint8_t*>(bufData);
  const uint32_t* offsets = static_cast<const uint32_t*>(offData);
  const uint32_t* lengths = static_cast<const uint32_t*>(lenData);
  const uint32_t hdr = dev->vnetHeaderSize;
  // Check the whole batch first so a bad entry writes nothing at all. In
  // offload mode each packet's virtio header is the hdr bytes before it.
  for (uint32_t i = 0; i < count; i++) {
    if (offsets[i] < hdr || static_cast<uint64_t>(offsets[i]) + lengths[i] > bufLength) {
      char text[200];
      snprintf(text, sizeof text, "packet %u (offset %u, length %u, header %u) lies outside the %zu-byte buffer", i,
               offsets[i], lengths[i], hdr, bufLength);
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", text);
      return nullptr;
    }
  }
  uint32_t consumed = 0;
  for (; consumed < count; consumed++) {
    if (WriteOne(dev, base + offsets[consumed] - hdr, lengths[consumed] + hdr) == 0) break;
  }
  napi_value result;
  napi_create_uint32(env, consumed, &result);
  return result;
}

napi_value Write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Tun* dev = Unwrap(env, info, &argc, argv);
  if (dev == nullptr || ThrowIfClosed(env, dev)) return nullptr;
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "write(packet[, header])");
    return nullptr;
  }
  void* data;
  size_t length;
  if (!GetTypedArray(env, argv[0], napi_uint8_array, "packet must be a Uint8Array", &data, &length)) return nullptr;
  napi_valuetype headerType = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &headerType);
  int rc;
  if (dev->vnetHeaderSize == 0) {
    if (headerType != napi_undefined) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "a header is only written in offload mode");
      return nullptr;
    }
    rc = WriteOne(dev, static_cast<const uint8_t*>(data), length);
  } else {
    // No header given: all zero (no checksum to finish, not GSO), what a
    // packet built whole in user space needs.
    static const uint8_t kZeroHeader[kVnetHeaderSize] = {0};
    const uint8_t* header = kZeroHeader;
    if (headerType != napi_undefined) {
      void* headerData;
      size_t headerLength;
      if (!GetTypedArray(env, argv[1], napi_uint8_array, "header must be a Uint8Array", &headerData, &headerLength)) {
        return nullptr;
      }
      if (headerLength != dev->vnetHeaderSize) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "header must be exactly vnetHeaderSize bytes");
        return nullptr;
      }
      header = static_cast<const uint8_t*>(headerData);
    }
    rc = WriteWithHeader(dev, header, static_cast<const uint8_t*>(data), length);
  }
  napi_value result;
  napi_create_int32(env, rc, &result);
  return result;
}

// ---------------------------------------------------------------- opening

bool HostIsLittleEndian() {
  const uint16_t one = 1;
  return *reinterpret_cast<const uint8_t*>(&one) == 1;
}

// Header size, byte order and offloads of a device opened with IFF_VNET_HDR.
// Returns 0 or the errno of the failing ioctl (named in *what); *offloads gets
// the TUN_F_* bits in effect.
int ConfigureOffload(int fd, unsigned* offloads, const char** what) {
  // Set explicitly: another queue of a multi-queue device may have changed it.
  int size = kVnetHeaderSize;
  if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) {
    *what = "ioctl(TUNSETVNETHDRSZ)";
    return errno;
  }
  // Little-endian header fields on every host (legacy virtio is native-endian).
  int le = 1;
  if (ioctl(fd, TUNSETVNETLE, &le) < 0 && !HostIsLittleEndian()) {
    *what = "ioctl(TUNSETVNETLE)";
    return errno;
  }
  // The kernel refuses (EINVAL) any bit it does not know, which is how USO
  // (Linux 6.2) is probed: ask with it, then without.
  const unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
  const unsigned wanted[] = {base | TUN_F_USO4 | TUN_F_USO6, base};
  for (unsigned flags : wanted) {
    if (ioctl(fd, TUNSETOFFLOAD, flags) == 0) {
      *offloads = flags;
      return 0;
    }
    if (errno != EINVAL) break;
  }
  *what = "ioctl(TUNSETOFFLOAD)";
  return errno;
}

napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_value self;
  if (ThrowIfFailed(env, napi_get_cb_info(env, info, &argc, argv, &self, nullptr), "bad call")) return nullptr;
  if (argc < 6) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "new TunHandle(path, name, multiQueue, mtu, batchSize, flags)");
    return nullptr;
  }
  char path[256];
  char name[IFNAMSIZ];
  bool multiQueue = false;
  uint32_t mtu = 0, batchSize = 0, openFlags = 0;
  if (!GetString(env, argv[0], path, sizeof path, "path must be a string under 256 bytes") ||
      !GetString(env, argv[1], name, sizeof name, "name must be a string of at most 15 bytes")) {
    return nullptr;
  }
  if (napi_get_value_bool(env, argv[2], &multiQueue) != napi_ok || napi_get_value_uint32(env, argv[3], &mtu) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &batchSize) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &openFlags) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "multiQueue must be a boolean, mtu, batchSize and flags numbers");
    return nullptr;
  }
  if ((mtu != 0 && (mtu < 68 || mtu > 65535)) || batchSize < 1 || batchSize > kMaxBatch ||
      (openFlags & ~kOpenOffload) != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "mtu must be 0 or 68..65535, batchSize 1..1024, flags known bits");
    return nullptr;
  }
  const bool offload = (openFlags & kOpenOffload) != 0;

  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ThrowSystemError(env, errno, "open", path);
    return nullptr;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multiQueue ? IFF_MULTI_QUEUE : 0) | (offload ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    ThrowSystemError(env, err, "ioctl(TUNSETIFF)", name[0] ? name : "(kernel-chosen name)");
    return nullptr;
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';

  unsigned offloads = 0;
  if (offload) {
    const char* what = "";
    int err = ConfigureOffload(fd, &offloads, &what);
    if (err != 0) {
      close(fd);
      ThrowSystemError(env, err, what, ifr.ifr_name);
      return nullptr;
    }
  }

  // Sizing the reads to the MTU only holds if the interface MTU agrees, so
  // the MTU is set here rather than left to a later `ip link`.
  if (mtu != 0) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq mtuReq;
    memset(&mtuReq, 0, sizeof mtuReq);
    memcpy(mtuReq.ifr_name, ifr.ifr_name, IFNAMSIZ);
    mtuReq.ifr_mtu = static_cast<int>(mtu);
    if (sock < 0 || ioctl(sock, SIOCSIFMTU, &mtuReq) < 0) {
      int err = errno;
      if (sock >= 0) close(sock);
      close(fd);
      ThrowSystemError(env, err, "ioctl(SIOCSIFMTU)", ifr.ifr_name);
      return nullptr;
    }
    close(sock);
  }

  Tun* dev = new Tun();
  dev->env = env;
  dev->fd = fd;
  dev->batchSize = batchSize;
  dev->vnetHeaderSize = offload ? kVnetHeaderSize : 0;
  // With offload a packet may be a GSO super-packet of up to 64 KiB whatever the MTU.
  const uint32_t maxPacket = offload || mtu == 0 ? kMaxIpPacket : mtu;
  dev->maxRead = dev->vnetHeaderSize + maxPacket + 1;  // + 1: see the truncation check in OnReadable
  const size_t readStride = (dev->maxRead + kPacketAlign - 1) / kPacketAlign * kPacketAlign;
  dev->readBytes = static_cast<size_t>(batchSize) * readStride;
  memcpy(dev->name, ifr.ifr_name, IFNAMSIZ);

  void* readData;
  void* offsetData;
  void* lengthData;
  void* counterData;
  // Not cleared: JS only ever looks at bytes a read has just written, and leaving its
  // megabytes untouched leaves them unbacked until packets need them.
  napi_value readBuffer = CreateSharedArray(env, dev->readBytes, &readData, &dev->readBuffer, false);
  napi_value offsetBuffer = CreateSharedArray(env, batchSize * sizeof(uint32_t), &offsetData, &dev->readOffsets);
  napi_value lengthBuffer = CreateSharedArray(env, batchSize * sizeof(uint32_t), &lengthData, &dev->readLengths);
  napi_value counterBuffer = CreateSharedArray(env, kCounterCount * sizeof(double), &counterData, &dev->counters);
  if (readBuffer == nullptr || offsetBuffer == nullptr || lengthBuffer == nullptr || counterBuffer == nullptr) {
    DeleteRef(env, &dev->readBuffer);
    DeleteRef(env, &dev->readOffsets);
    DeleteRef(env, &dev->readLengths);
    DeleteRef(env, &dev->counters);
    close(fd);
    delete dev;
    napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "could not allocate TUN read buffers");
    return nullptr;
  }
  dev->readData = static_cast<uint8_t*>(readData);
  dev->offsets = static_cast<uint32_t*>(offsetData);
  dev->lengths = static_cast<uint32_t*>(lengthData);
  dev->counter = static_cast<double*>(counterData);

  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &dev->poll, fd);
  dev->poll.data = dev;

  napi_value asyncName;
  napi_create_string_utf8(env, "masq.TunDevice", NAPI_AUTO_LENGTH, &asyncName);
  napi_async_init(env, nullptr, asyncName, &dev->async);
  napi_wrap(env, self, dev, Finalize, nullptr, &dev->self);
  napi_add_async_cleanup_hook(env, AsyncCleanupHook, dev, &dev->cleanupHook);

  napi_value nameValue, fdValue, maxPacketValue, headerValue, offloadValue, batchValue;
  napi_create_string_utf8(env, dev->name, NAPI_AUTO_LENGTH, &nameValue);
  napi_create_int32(env, fd, &fdValue);
  napi_create_uint32(env, maxPacket, &maxPacketValue);
  napi_create_uint32(env, dev->vnetHeaderSize, &headerValue);
  napi_create_uint32(env, offloads, &offloadValue);
  napi_create_uint32(env, batchSize, &batchValue);
  napi_property_descriptor props[] = {
      {"name", nullptr, nullptr, nullptr, nullptr, nameValue, napi_enumerable, nullptr},
      {"fd", nullptr, nullptr, nullptr, nullptr, fdValue, napi_enumerable, nullptr},
      {"maxPacketSize", nullptr, nullptr, nullptr, nullptr, maxPacketValue, napi_enumerable, nullptr},
      {"vnetHeaderSize", nullptr, nullptr, nullptr, nullptr, headerValue, napi_enumerable, nullptr},
      {"offloads", nullptr, nullptr, nullptr, nullptr, offloadValue, napi_enumerable, nullptr},
      {"batchSize", nullptr, nullptr, nullptr, nullptr, batchValue, napi_enumerable, nullptr},
      {"readBuffer", nullptr, nullptr, nullptr, nullptr, readBuffer, napi_enumerable, nullptr},
      {"readOffsets", nullptr, nullptr, nullptr, nullptr, offsetBuffer, napi_enumerable, nullptr},
      {"readLengths", nullptr, nullptr, nullptr, nullptr, lengthBuffer, napi_enumerable, nullptr},
      {"counters", nullptr, nullptr, nullptr, nullptr, counterBuffer, napi_enumerable, nullptr},
  };
  napi_define_properties(env, self, sizeof props / sizeof props[0], props);
  return self;
}

}  // namespace

// Queue steering for multi-queue devices (tun_steering.cc).
void RegisterSteering(napi_env env, napi_value exports);

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"start", nullptr, Start, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"stop", nullptr, Stop, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"writeBatch", nullptr, WriteBatch, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"write", nullptr, Write, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"readNow", nullptr, ReadNow, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default_method, nullptr},
  };
  napi_value ctor;
  napi_define_class(env, "TunHandle", NAPI_AUTO_LENGTH, Construct, nullptr, sizeof methods / sizeof methods[0], methods,
                    &ctor);
  napi_set_named_property(env, exports, "TunHandle", ctor);
  const struct {
    const char* name;
    uint32_t value;
  } constants[] = {
      {"abiVersion", kAbiVersion},
      {"counterCount", kCounterCount},
      {"openOffload", kOpenOffload},
  };
  for (const auto& c : constants) {
    napi_value v;
    napi_create_uint32(env, c.value, &v);
    napi_set_named_property(env, exports, c.name, v);
  }
  RegisterSteering(env, exports);
  return exports;
}

#else  // not Linux: build an empty module so `npm install` succeeds everywhere;
       // the TypeScript side refuses to open a TUN before it would load this.

NAPI_MODULE_INIT() { return exports; }

#endif
