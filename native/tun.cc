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
// JS surface (wrapped by src/dataplane/tun/device.ts; that file is the API):
//   new TunHandle(path, name, multiQueue, mtu, batchSize)   opens the device
//   .name .fd .slotSize .batchSize                            plain values
//   .readBuffer (ArrayBuffer, batchSize * slotSize)           packet i at i * slotSize,
//                                                             at most slotSize - 1 bytes
//   .readLengths (ArrayBuffer, batchSize x uint32)            filled on each wake
//   .counters (ArrayBuffer, kCounterCount x float64)          see enum Counter
//   .start(onPackets(count), onError(negErrno, syscall))      begin polling
//   .stop()                                                   stop polling
//   .writeBatch(u8, offsetsU32, lengthsU32, count) -> number  packets consumed
//   .write(u8) -> 1 written, 0 queue full, -errno rejected
//   .close()                                                  idempotent

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
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

namespace {

constexpr uint32_t kMaxBatch = 1024;
constexpr uint32_t kSlotAlign = 64;   // keep every slot on its own cache lines
constexpr int kMaxEintrRetries = 8;

// Shared with JS as a Float64Array: doubles count exactly to 2^53.
enum Counter {
  kWakes = 0,
  kPacketsRead,
  kReadTruncated,   // packet longer than a slot: dropped, never half-delivered
  kPacketsWritten,
  kWriteRejected,   // the kernel refused the packet (EINVAL for non-IP, ...)
  kWriteQueueFull,  // times a write hit EAGAIN
  kLastWriteErrno,  // positive errno of the last rejected write, 0 if none
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
  uint8_t* readData = nullptr;
  uint32_t* lengths = nullptr;
  double* counter = nullptr;
  uint32_t slotSize = 0;
  uint32_t batchSize = 0;
  char name[IFNAMSIZ] = {0};
};

// ---------------------------------------------------------------- errors

void ThrowSystemError(napi_env env, int err, const char* syscall, const char* subject) {
  char codeName[64];
  uv_err_name_r(-err, codeName, sizeof codeName);
  char text[512];
  snprintf(text, sizeof text, "%s %s: %s (%s)", syscall, subject, strerror(err), codeName);
  napi_value message, code, error, errnoValue, syscallValue;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, codeName, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errnoValue);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscallValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_set_named_property(env, error, "syscall", syscallValue);
  napi_throw(env, error);
}

bool ThrowIfFailed(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return false;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_TUN_NAPI", what);
  return true;
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
  if (IsDetached(env, dev->readBuffer) || IsDetached(env, dev->readLengths) || IsDetached(env, dev->counters)) {
    ReportError(dev, EFAULT, "read (buffer detached)");
    napi_close_handle_scope(env, scope);
    return;
  }

  uint32_t count = 0;
  int readError = 0;
  int eintr = 0;
  for (uint32_t attempt = 0; attempt < dev->batchSize; attempt++) {
    uint8_t* slot = dev->readData + static_cast<size_t>(count) * dev->slotSize;
    ssize_t n = read(dev->fd, slot, dev->slotSize);
    if (n < 0) {
      if (errno == EINTR && eintr++ < kMaxEintrRetries) {
        attempt--;
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) readError = errno;
      break;
    }
    // tun copies what fits and returns that length, so a slot is one byte
    // larger than the largest packet it is meant for: a full slot means the
    // packet did not fit, and it is dropped whole rather than half-delivered.
    if (static_cast<size_t>(n) >= dev->slotSize) {
      dev->counter[kReadTruncated] += 1;
      continue;
    }
    if (n == 0) continue;
    dev->lengths[count++] = static_cast<uint32_t>(n);
  }
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
int WriteOne(Tun* dev, const uint8_t* data, size_t length) {
  for (int tries = 0;; tries++) {
    ssize_t n = write(dev->fd, data, length);
    if (n >= 0) {
      dev->counter[kPacketsWritten] += 1;
      return 1;
    }
    if (errno == EINTR && tries < kMaxEintrRetries) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      dev->counter[kWriteQueueFull] += 1;
      return 0;
    }
    dev->counter[kWriteRejected] += 1;
    dev->counter[kLastWriteErrno] = errno;
    return -errno;
  }
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
  // Check the whole batch first so a bad entry writes nothing at all.
  for (uint32_t i = 0; i < count; i++) {
    if (static_cast<uint64_t>(offsets[i]) + lengths[i] > bufLength) {
      char text[160];
      snprintf(text, sizeof text, "packet %u (offset %u, length %u) lies outside the %zu-byte buffer", i, offsets[i],
               lengths[i], bufLength);
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", text);
      return nullptr;
    }
  }
  uint32_t consumed = 0;
  for (; consumed < count; consumed++) {
    if (WriteOne(dev, base + offsets[consumed], lengths[consumed]) == 0) break;
  }
  napi_value result;
  napi_create_uint32(env, consumed, &result);
  return result;
}

napi_value Write(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Tun* dev = Unwrap(env, info, &argc, argv);
  if (dev == nullptr || ThrowIfClosed(env, dev)) return nullptr;
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "write(packet)");
    return nullptr;
  }
  void* data;
  size_t length;
  if (!GetTypedArray(env, argv[0], napi_uint8_array, "packet must be a Uint8Array", &data, &length)) return nullptr;
  napi_value result;
  napi_create_int32(env, WriteOne(dev, static_cast<const uint8_t*>(data), length), &result);
  return result;
}

// ---------------------------------------------------------------- opening

bool GetString(napi_env env, napi_value value, char* out, size_t size, const char* what) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return false;
  }
  if (length >= size) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", what);
    return false;
  }
  napi_get_value_string_utf8(env, value, out, size, &length);
  return true;
}

napi_value CreateSharedArray(napi_env env, size_t bytes, void** data, napi_ref* ref) {
  napi_value buffer;
  if (napi_create_arraybuffer(env, bytes, data, &buffer) != napi_ok) return nullptr;
  memset(*data, 0, bytes);
  napi_create_reference(env, buffer, 1, ref);
  return buffer;
}

napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_value self;
  if (ThrowIfFailed(env, napi_get_cb_info(env, info, &argc, argv, &self, nullptr), "bad call")) return nullptr;
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "new TunHandle(path, name, multiQueue, mtu, batchSize)");
    return nullptr;
  }
  char path[256];
  char name[IFNAMSIZ];
  bool multiQueue = false;
  uint32_t mtu = 0, batchSize = 0;
  if (!GetString(env, argv[0], path, sizeof path, "path must be a string under 256 bytes") ||
      !GetString(env, argv[1], name, sizeof name, "name must be a string of at most 15 bytes")) {
    return nullptr;
  }
  if (napi_get_value_bool(env, argv[2], &multiQueue) != napi_ok || napi_get_value_uint32(env, argv[3], &mtu) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &batchSize) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "multiQueue must be a boolean, mtu and batchSize numbers");
    return nullptr;
  }
  if ((mtu != 0 && (mtu < 68 || mtu > 65535)) || batchSize < 1 || batchSize > kMaxBatch) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "mtu must be 0 or 68..65535, batchSize 1..1024");
    return nullptr;
  }

  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ThrowSystemError(env, errno, "open", path);
    return nullptr;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multiQueue ? IFF_MULTI_QUEUE : 0);
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    ThrowSystemError(env, err, "ioctl(TUNSETIFF)", name[0] ? name : "(kernel-chosen name)");
    return nullptr;
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';

  // Sizing the read slots to the MTU only holds if the interface MTU agrees,
  // so the MTU is set here rather than left to a later `ip link`.
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
  uint32_t slot = (mtu == 0 ? 65535 : mtu) + 1;  // + 1: see the truncation check in OnReadable
  dev->slotSize = (slot + kSlotAlign - 1) / kSlotAlign * kSlotAlign;
  memcpy(dev->name, ifr.ifr_name, IFNAMSIZ);

  void* readData;
  void* lengthData;
  void* counterData;
  napi_value readBuffer =
      CreateSharedArray(env, static_cast<size_t>(batchSize) * dev->slotSize, &readData, &dev->readBuffer);
  napi_value lengthBuffer = CreateSharedArray(env, batchSize * sizeof(uint32_t), &lengthData, &dev->readLengths);
  napi_value counterBuffer = CreateSharedArray(env, kCounterCount * sizeof(double), &counterData, &dev->counters);
  if (readBuffer == nullptr || lengthBuffer == nullptr || counterBuffer == nullptr) {
    DeleteRef(env, &dev->readBuffer);
    DeleteRef(env, &dev->readLengths);
    DeleteRef(env, &dev->counters);
    close(fd);
    delete dev;
    napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "could not allocate TUN read buffers");
    return nullptr;
  }
  dev->readData = static_cast<uint8_t*>(readData);
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

  napi_value nameValue, fdValue, slotValue, batchValue;
  napi_create_string_utf8(env, dev->name, NAPI_AUTO_LENGTH, &nameValue);
  napi_create_int32(env, fd, &fdValue);
  napi_create_uint32(env, dev->slotSize, &slotValue);
  napi_create_uint32(env, batchSize, &batchValue);
  napi_property_descriptor props[] = {
      {"name", nullptr, nullptr, nullptr, nullptr, nameValue, napi_enumerable, nullptr},
      {"fd", nullptr, nullptr, nullptr, nullptr, fdValue, napi_enumerable, nullptr},
      {"slotSize", nullptr, nullptr, nullptr, nullptr, slotValue, napi_enumerable, nullptr},
      {"batchSize", nullptr, nullptr, nullptr, nullptr, batchValue, napi_enumerable, nullptr},
      {"readBuffer", nullptr, nullptr, nullptr, nullptr, readBuffer, napi_enumerable, nullptr},
      {"readLengths", nullptr, nullptr, nullptr, nullptr, lengthBuffer, napi_enumerable, nullptr},
      {"counters", nullptr, nullptr, nullptr, nullptr, counterBuffer, napi_enumerable, nullptr},
  };
  napi_define_properties(env, self, sizeof props / sizeof props[0], props);
  return self;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"start", nullptr, Start, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"stop", nullptr, Stop, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"writeBatch", nullptr, WriteBatch, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"write", nullptr, Write, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default_method, nullptr},
  };
  napi_value ctor, counterCount;
  napi_define_class(env, "TunHandle", NAPI_AUTO_LENGTH, Construct, nullptr, sizeof methods / sizeof methods[0], methods,
                    &ctor);
  napi_set_named_property(env, exports, "TunHandle", ctor);
  napi_create_uint32(env, kCounterCount, &counterCount);
  napi_set_named_property(env, exports, "counterCount", counterCount);
  return exports;
}

#else  // not Linux: build an empty module so `npm install` succeeds everywhere;
       // the TypeScript side refuses to open a TUN before it would load this.

NAPI_MODULE_INIT() { return exports; }

#endif
