// UdpSet: many UDP sockets behind one wake of Node's event loop.
//
// Why: a media relay has one socket per port, and at real-time rates (one
// packet per port every 20 ms) each wake of a single socket finds one
// datagram. Per-socket batching (udp.cc) then saves nothing: the cost is the
// wake and the crossing into JavaScript, paid per packet. Here the sockets
// sit in one epoll set, that epoll fd is what libuv watches (uv_poll), and a
// wake drains every ready socket (recvmmsg each) into one buffer and crosses
// into JS once, with the socket index of every datagram. Sends are queued by
// JS with a socket index and leave in one call per flush (sendmmsg per run of
// entries for one socket). The epoll set is level-triggered: what one wake
// leaves unread (the buffer full) wakes the next.
//
// A full socket buffer (EAGAIN) drops the datagram and counts it, as the
// network would: real-time media is not worth holding. Errors of one socket
// (an ICMP message, a socket gone bad) are counted and never stop the others.
//
// JS surface (wrapped by src/net/udp-set.ts; that file is the API):
//   new UdpSet(batchSize, slotSize, sendSlots, sendBytes, maxSockets)
//   .readBuffer   (batchSize x slotSize)         datagram i of a wake at meta[i].offset
//   .readMeta     (batchSize x kMetaStride u32)  as udp.cc
//   .readSocket   (batchSize u32)                socket index of datagram i
//   .sendBuffer   (sendBytes)  .sendMeta (sendSlots x kMetaStride u32)  .sendSocket (sendSlots u32)
//   .counters     (kSetCounterCount f64)         see enum SetCounter
//   .open(family, address, port, flags, rcvbuf, sndbuf) -> [index, localPort, localAddress]
//   .closeSocket(index)                          idempotent
//   .start(onBatch(count), onError(negErrno, syscall))   .stop()
//   .send(count)                                 sends queued entries 0..count-1
//   .close()                                     closes every socket; idempotent

#include <node_api.h>
#include <uv.h>

#if defined(__linux__)

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp-shared.h"

namespace masq_udp {
namespace {

constexpr uint32_t kSetMaxBatch = 4096;
constexpr uint32_t kSetMaxSendSlots = 16384;
constexpr uint32_t kSetMaxSockets = 65536;
// Datagrams read from one socket per wake, so one busy socket cannot take the
// whole buffer from the others.
constexpr uint32_t kPerSocketRead = 64;
constexpr int kRetries = 8;
constexpr int kRoundsPerWake = 8;

enum SetCounter {
  kSetWakes = 0,
  kSetReadySockets,   // socket reads made (ready sockets)
  kSetDatagramsIn,
  kSetTruncated,      // longer than a slot: dropped, counted
  kSetRecvErrors,     // transient errors (ICMP-reported) read past
  kSetLastRecvErrno,
  kSetDatagramsOut,
  kSetSendCalls,      // sendmmsg() calls
  kSetSendDropped,    // the socket buffer was full (EAGAIN): dropped
  kSetSendErrors,     // refused by the kernel, or for a socket no longer open
  kSetLastSendErrno,
  kSetSocketsFailed,  // sockets taken out of the set after an error they cannot go past
  kSetFullRounds,     // reads that filled the buffer (another round followed in the same wake)
  kSetCounterCount
};

struct Set {
  napi_env env = nullptr;
  int epfd = -1;
  uv_poll_t poll;
  bool polling = false;
  bool closed = false;
  bool handleClosed = false;
  bool finalized = false;
  napi_ref self = nullptr;
  napi_ref onBatch = nullptr;
  napi_ref onError = nullptr;
  napi_ref buffers[7] = {};
  napi_async_context async = nullptr;
  napi_async_cleanup_hook_handle cleanupHook = nullptr;
  uint8_t* readData = nullptr;
  uint32_t* rmeta = nullptr;
  uint32_t* rsock = nullptr;
  uint8_t* sendData = nullptr;
  uint32_t* smeta = nullptr;
  uint32_t* ssock = nullptr;
  double* counter = nullptr;
  uint32_t batchSize = 0, slotSize = 0, sendSlots = 0, maxSockets = 0;
  size_t sendBytes = 0;
  int* fds = nullptr;         // by index; -1: free
  uint8_t* families = nullptr;
  uint32_t open = 0;
  struct epoll_event* events = nullptr;
  struct mmsghdr* rmsgs = nullptr;
  struct iovec* riov = nullptr;
  struct sockaddr_storage* raddr = nullptr;
  struct mmsghdr* smsgs = nullptr;
  struct iovec* siov = nullptr;
  struct sockaddr_storage* saddr = nullptr;
};

void DeleteSet(Set* s) {
  free(s->fds);
  free(s->families);
  free(s->events);
  free(s->rmsgs);
  free(s->riov);
  free(s->raddr);
  free(s->smsgs);
  free(s->siov);
  free(s->saddr);
  delete s;
}

void OnSetHandleClosed(uv_handle_t* handle) {
  Set* s = static_cast<Set*>(handle->data);
  s->handleClosed = true;
  if (s->cleanupHook != nullptr) {
    napi_remove_async_cleanup_hook(s->cleanupHook);
    s->cleanupHook = nullptr;
  }
  if (s->finalized) DeleteSet(s);
}

void StopPolling(Set* s) {
  if (!s->polling) return;
  uv_poll_stop(&s->poll);
  s->polling = false;
  if (s->self != nullptr) napi_reference_unref(s->env, s->self, nullptr);
}

void CloseMember(Set* s, uint32_t index) {
  if (index >= s->maxSockets || s->fds[index] < 0) return;
  epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->fds[index], nullptr);
  close(s->fds[index]);
  s->fds[index] = -1;
  s->open--;
}

void CloseSet(Set* s) {
  if (s->closed) return;
  StopPolling(s);
  s->closed = true;
  for (uint32_t i = 0; i < s->maxSockets; i++) CloseMember(s, i);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->poll), OnSetHandleClosed);
  close(s->epfd);
  s->epfd = -1;
  DeleteRef(s->env, &s->onBatch);
  DeleteRef(s->env, &s->onError);
  if (s->async != nullptr) {
    napi_async_destroy(s->env, s->async);
    s->async = nullptr;
  }
}

void SetCleanupHook(napi_async_cleanup_hook_handle handle, void* data) {
  Set* s = static_cast<Set*>(data);
  s->cleanupHook = handle;
  CloseSet(s);
}

void FinalizeSet(napi_env env, void* data, void* /*hint*/) {
  Set* s = static_cast<Set*>(data);
  s->finalized = true;
  CloseSet(s);
  for (napi_ref& r : s->buffers) DeleteRef(env, &r);
  DeleteRef(env, &s->self);
  if (s->handleClosed) DeleteSet(s);
}

bool AnyBufferDetached(Set* s) {
  for (napi_ref r : s->buffers) {
    if (IsDetached(s->env, r)) return true;
  }
  return false;
}

// ---------------------------------------------------------------- reading

// One ready socket: reads up to `room` datagrams into slots from `slot` on,
// their meta from `out` on. Returns the slots used; *kept: meta written.
uint32_t ReadMember(Set* s, uint32_t index, uint32_t slot, uint32_t out, uint32_t room, uint32_t* kept) {
  const int fd = s->fds[index];
  for (uint32_t i = 0; i < room; i++) {
    const uint32_t k = slot + i;
    s->riov[k].iov_base = s->readData + static_cast<size_t>(k) * s->slotSize;
    s->riov[k].iov_len = s->slotSize;
    struct msghdr* h = &s->rmsgs[k].msg_hdr;
    h->msg_name = &s->raddr[k];
    h->msg_namelen = sizeof(struct sockaddr_storage);
    h->msg_iov = &s->riov[k];
    h->msg_iovlen = 1;
    h->msg_control = nullptr;
    h->msg_controllen = 0;
    h->msg_flags = 0;
  }
  int got = -1;
  for (int tries = 0; tries < kRetries; tries++) {
    got = recvmmsg(fd, s->rmsgs + slot, room, MSG_DONTWAIT, nullptr);
    if (got >= 0) break;
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return 0;
    if (err == EINTR) continue;
    if (IsTransient(err)) {
      s->counter[kSetRecvErrors] += 1;
      s->counter[kSetLastRecvErrno] = err;
      continue;
    }
    // Not about a peer: this socket cannot be read any more; the others go on.
    s->counter[kSetSocketsFailed] += 1;
    s->counter[kSetLastRecvErrno] = err;
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, nullptr);
    return 0;
  }
  if (got < 0) return 0;
  uint32_t n = 0;
  for (int i = 0; i < got; i++) {
    const uint32_t k = slot + static_cast<uint32_t>(i);
    if (s->rmsgs[k].msg_hdr.msg_flags & MSG_TRUNC) {
      s->counter[kSetTruncated] += 1;
      continue;
    }
    uint32_t* m = s->rmeta + (out + n) * kMetaStride;
    m[kOffset] = k * s->slotSize;
    m[kLength] = s->rmsgs[k].msg_len;
    m[kSegment] = 0;
    AddressToMeta(&s->raddr[k], m);
    s->rsock[out + n] = index;
    n++;
  }
  *kept = n;
  return static_cast<uint32_t>(got);
}

// Drains the ready sockets into the read buffer; returns the datagrams kept.
uint32_t ReadReady(Set* s, uint32_t* slotsUsed) {
  int ready;
  do {
    ready = epoll_wait(s->epfd, s->events, static_cast<int>(s->batchSize), 0);
  } while (ready < 0 && errno == EINTR);
  uint32_t slot = 0, out = 0;
  for (int e = 0; e < ready && slot < s->batchSize; e++) {
    const uint32_t index = s->events[e].data.u32;
    if (index >= s->maxSockets || s->fds[index] < 0) continue;
    if (s->events[e].events & EPOLLERR) {
      // An error an ICMP message left on the socket: read (cleared) and counted.
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(s->fds[index], SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        s->counter[kSetRecvErrors] += 1;
        s->counter[kSetLastRecvErrno] = err;
      }
    }
    if (!(s->events[e].events & EPOLLIN)) continue;
    uint32_t room = s->batchSize - slot;
    if (room > kPerSocketRead) room = kPerSocketRead;
    uint32_t kept = 0;
    s->counter[kSetReadySockets] += 1;
    slot += ReadMember(s, index, slot, out, room, &kept);
    out += kept;
  }
  s->counter[kSetDatagramsIn] += out;
  *slotsUsed = slot;
  return out;
}

void ReportSetError(Set* s, int err, const char* syscall) {
  StopPolling(s);
  DeleteRef(s->env, &s->onBatch);
  CallOnError(s->env, s->async, s->self, &s->onError, err, syscall);
}

void OnSetPoll(uv_poll_t* handle, int status, int events) {
  Set* s = static_cast<Set*>(handle->data);
  if (s->closed || !s->polling) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  if (status < 0) {
    ReportSetError(s, -status, "poll");
  } else if (AnyBufferDetached(s)) {
    ReportSetError(s, EFAULT, "recvmmsg (buffer detached)");
  } else if (events & UV_READABLE) {
    s->counter[kSetWakes] += 1;
    // A wake that filled the buffer may have left sockets unread: they are
    // read at once (a few rounds at most, so timers and other handles still
    // get their turn) rather than left to the next turn of the event loop.
    for (int round = 0; round < kRoundsPerWake && !s->closed && s->onBatch != nullptr; round++) {
      uint32_t slots = 0;
      const uint32_t count = ReadReady(s, &slots);
      if (count > 0) {
        napi_value argv[1];
        napi_create_uint32(s->env, count, &argv[0]);
        CallJs(s->env, s->async, s->self, s->onBatch, 1, argv);
      }
      if (slots < s->batchSize) break;
      s->counter[kSetFullRounds] += 1;
    }
  }
  napi_close_handle_scope(s->env, scope);
}

// ---------------------------------------------------------------- sending

void SendRefused(Set* s, int err, double datagrams) {
  s->counter[kSetSendErrors] += datagrams;
  s->counter[kSetLastSendErrno] = err;
}

// Entries from..to-1, all for socket `index`.
void SendRun(Set* s, uint32_t index, uint32_t from, uint32_t to) {
  const uint32_t n = to - from;
  if (index >= s->maxSockets || s->fds[index] < 0) {
    SendRefused(s, EBADF, n);
    return;
  }
  const int fd = s->fds[index];
  uint32_t msgs = 0;
  for (uint32_t i = from; i < to; i++) {
    const uint32_t* m = s->smeta + i * kMetaStride;
    struct mmsghdr* mm = &s->smsgs[msgs];
    memset(mm, 0, sizeof *mm);
    const socklen_t len = MetaToAddress(s->families[index], m, &s->saddr[msgs]);
    if (len == 0) {
      SendRefused(s, EAFNOSUPPORT, 1);
      continue;
    }
    s->siov[msgs].iov_base = s->sendData + m[kOffset];
    s->siov[msgs].iov_len = m[kLength];
    mm->msg_hdr.msg_name = &s->saddr[msgs];
    mm->msg_hdr.msg_namelen = len;
    mm->msg_hdr.msg_iov = &s->siov[msgs];
    mm->msg_hdr.msg_iovlen = 1;
    msgs++;
  }
  uint32_t done = 0;
  int eintr = 0;
  while (done < msgs) {
    const int r = sendmmsg(fd, s->smsgs + done, msgs - done, MSG_DONTWAIT);
    s->counter[kSetSendCalls] += 1;
    if (r > 0) {
      done += static_cast<uint32_t>(r);
      s->counter[kSetDatagramsOut] += r;
      continue;
    }
    const int err = errno;
    if (err == EINTR && eintr++ < kRetries) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      s->counter[kSetSendDropped] += msgs - done;
      return;
    }
    // The first datagram is refused (an ICMP error reported late, a bad route): the rest go on.
    SendRefused(s, err, 1);
    done++;
  }
}

// ---------------------------------------------------------------- methods

Set* UnwrapSet(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  return static_cast<Set*>(UnwrapThis(env, info, argc, argv, "not a UdpSet"));
}

bool ThrowIfSetClosed(napi_env env, Set* s) { return ThrowIfClosed(env, s->closed, "UDP socket set is closed"); }

napi_value SetOpen(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  Set* s = UnwrapSet(env, info, &argc, argv);
  if (s == nullptr || ThrowIfSetClosed(env, s)) return nullptr;
  const char* usage = "open(family, address, port, flags, rcvbuf, sndbuf)";
  uint32_t family, port, flags, rcvbuf, sndbuf;
  uint32_t* const numbers[] = {&family, &port, &flags, &rcvbuf, &sndbuf};
  const int positions[] = {0, 2, 3, 4, 5};
  if (!GetUint32Args(env, argc, argv, positions, numbers, 5, usage)) return nullptr;
  char address[INET6_ADDRSTRLEN + 20];
  if (!GetString(env, argv[1], address, sizeof address, "address must be an IP literal")) return nullptr;
  if ((family != 4 && family != 6) || port > 65535 || rcvbuf > INT32_MAX || sndbuf > INT32_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "family 4 or 6, port 0..65535");
    return nullptr;
  }
  uint32_t index = 0;
  while (index < s->maxSockets && s->fds[index] >= 0) index++;
  if (index == s->maxSockets) {
    ThrowSystemError(env, EMFILE, "open", "UDP socket set (maxSockets reached)");
    return nullptr;
  }
  bool gso = false, gro = false;
  // No GSO or GRO: a set carries small real-time datagrams, one per socket per wake.
  const int fd = OpenBound(env, family, address, port, flags & ~(kGro | kGso), rcvbuf, sndbuf, false, &gso, &gro);
  if (fd < 0) return nullptr;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u32 = index;
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    const int err = errno;
    close(fd);
    ThrowSystemError(env, err, "epoll_ctl", "UDP socket set");
    return nullptr;
  }
  s->fds[index] = fd;
  s->families[index] = static_cast<uint8_t>(family);
  s->open++;
  char text[INET6_ADDRSTRLEN];
  uint32_t localPort;
  LocalAddress(fd, text, sizeof text, &localPort);
  napi_value result, v0, v1, v2;
  napi_create_array_with_length(env, 3, &result);
  napi_create_uint32(env, index, &v0);
  napi_create_uint32(env, localPort, &v1);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v2);
  napi_set_element(env, result, 0, v0);
  napi_set_element(env, result, 1, v1);
  napi_set_element(env, result, 2, v2);
  return result;
}

napi_value SetCloseSocket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Set* s = UnwrapSet(env, info, &argc, argv);
  if (s == nullptr || s->closed) return nullptr;
  uint32_t index;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &index) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "closeSocket(index)");
    return nullptr;
  }
  CloseMember(s, index);
  return nullptr;
}

napi_value SetStart(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Set* s = UnwrapSet(env, info, &argc, argv);
  if (s == nullptr || ThrowIfSetClosed(env, s)) return nullptr;
  napi_ref* callbacks[] = {&s->onBatch, &s->onError};
  if (!TakeCallbacks(env, argc, argv, callbacks, 2, "start(onBatch, onError) takes two functions")) return nullptr;
  const int rc = uv_poll_start(&s->poll, UV_READABLE, OnSetPoll);
  if (rc != 0) {
    ThrowSystemError(env, -rc, "uv_poll_start", "UDP socket set");
    return nullptr;
  }
  if (!s->polling) {
    s->polling = true;
    napi_reference_ref(env, s->self, nullptr);
  }
  return nullptr;
}

napi_value SetStop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Set* s = UnwrapSet(env, info, &argc, nullptr);
  if (s == nullptr || s->closed) return nullptr;
  StopPolling(s);
  return nullptr;
}

napi_value SetClose(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Set* s = UnwrapSet(env, info, &argc, nullptr);
  if (s != nullptr) CloseSet(s);
  return nullptr;
}

napi_value SetSend(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Set* s = UnwrapSet(env, info, &argc, argv);
  if (s == nullptr || ThrowIfSetClosed(env, s)) return nullptr;
  uint32_t count;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &count) != napi_ok || count > s->sendSlots) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "send(count): count must be a number no larger than sendSlots");
    return nullptr;
  }
  if (AnyBufferDetached(s)) {
    napi_throw_error(env, "ERR_INVALID_STATE", "a shared buffer is detached");
    return nullptr;
  }
  if (ThrowIfBadQueue(env, s->smeta, count, s->sendBytes)) return nullptr;
  uint32_t i = 0;
  while (i < count) {
    const uint32_t index = s->ssock[i];
    uint32_t j = i + 1;
    while (j < count && s->ssock[j] == index) j++;
    SendRun(s, index, i, j);
    i = j;
  }
  return nullptr;
}

napi_value ConstructSet(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_value self;
  if (ThrowIfFailed(env, napi_get_cb_info(env, info, &argc, argv, &self, nullptr), "bad call")) return nullptr;
  const char* usage = "new UdpSet(batchSize, slotSize, sendSlots, sendBytes, maxSockets)";
  uint32_t v[5];
  uint32_t* const numbers[] = {&v[0], &v[1], &v[2], &v[3], &v[4]};
  const int positions[] = {0, 1, 2, 3, 4};
  if (!GetUint32Args(env, argc, argv, positions, numbers, 5, usage)) return nullptr;
  const uint32_t batchSize = v[0], slotSize = v[1], sendSlots = v[2], sendBytes = v[3], maxSockets = v[4];
  if (batchSize < 1 || batchSize > kSetMaxBatch || slotSize < 1 || slotSize > 65536 || sendSlots < 1 ||
      sendSlots > kSetMaxSendSlots || sendBytes < 1 || sendBytes > (64u << 20) || maxSockets < 1 ||
      maxSockets > kSetMaxSockets || static_cast<uint64_t>(batchSize) * slotSize > (256u << 20)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "batchSize 1..4096, slotSize 1..65536 (their product at most 256 MiB), sendSlots 1..16384, "
                           "sendBytes 1..64 MiB, maxSockets 1..65536");
    return nullptr;
  }
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    ThrowSystemError(env, errno, "epoll_create1", "UDP socket set");
    return nullptr;
  }
  Set* s = new Set();
  s->env = env;
  s->epfd = epfd;
  s->batchSize = batchSize;
  s->slotSize = slotSize;
  s->sendSlots = sendSlots;
  s->sendBytes = sendBytes;
  s->maxSockets = maxSockets;
  s->fds = Alloc<int>(maxSockets);
  s->families = Alloc<uint8_t>(maxSockets);
  s->events = Alloc<struct epoll_event>(batchSize);
  s->rmsgs = Alloc<struct mmsghdr>(batchSize);
  s->riov = Alloc<struct iovec>(batchSize);
  s->raddr = Alloc<struct sockaddr_storage>(batchSize);
  s->smsgs = Alloc<struct mmsghdr>(sendSlots);
  s->siov = Alloc<struct iovec>(sendSlots);
  s->saddr = Alloc<struct sockaddr_storage>(sendSlots);
  void* data[7];
  const size_t sizes[7] = {
      static_cast<size_t>(batchSize) * slotSize, batchSize * kMetaStride * sizeof(uint32_t),
      batchSize * sizeof(uint32_t),              sendBytes,
      sendSlots * kMetaStride * sizeof(uint32_t), sendSlots * sizeof(uint32_t),
      kSetCounterCount * sizeof(double),
  };
  napi_value arrays[7];
  bool ok = s->fds && s->families && s->events && s->rmsgs && s->riov && s->raddr && s->smsgs && s->siov && s->saddr;
  for (int k = 0; k < 7 && ok; k++) {
    // The read and send bytes are not cleared: JS only reads what a read just wrote.
    arrays[k] = CreateSharedArray(env, sizes[k], &data[k], &s->buffers[k], k != 0 && k != 3);
    ok = arrays[k] != nullptr;
  }
  if (!ok) {
    for (napi_ref& r : s->buffers) DeleteRef(env, &r);
    close(epfd);
    DeleteSet(s);
    napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "could not allocate UDP socket set buffers");
    return nullptr;
  }
  for (uint32_t i = 0; i < maxSockets; i++) s->fds[i] = -1;
  s->readData = static_cast<uint8_t*>(data[0]);
  s->rmeta = static_cast<uint32_t*>(data[1]);
  s->rsock = static_cast<uint32_t*>(data[2]);
  s->sendData = static_cast<uint8_t*>(data[3]);
  s->smeta = static_cast<uint32_t*>(data[4]);
  s->ssock = static_cast<uint32_t*>(data[5]);
  s->counter = static_cast<double*>(data[6]);

  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &s->poll, epfd);
  s->poll.data = s;
  napi_value asyncName;
  napi_create_string_utf8(env, "masq.UdpSet", NAPI_AUTO_LENGTH, &asyncName);
  napi_async_init(env, nullptr, asyncName, &s->async);
  napi_wrap(env, self, s, FinalizeSet, nullptr, &s->self);
  napi_add_async_cleanup_hook(env, SetCleanupHook, s, &s->cleanupHook);

  const char* names[7] = {"readBuffer", "readMeta", "readSocket", "sendBuffer", "sendMeta", "sendSocket", "counters"};
  napi_property_descriptor props[9];
  for (int k = 0; k < 7; k++) props[k] = {names[k], nullptr, nullptr, nullptr, nullptr, arrays[k], napi_enumerable, nullptr};
  napi_value batchValue, slotsValue;
  napi_create_uint32(env, batchSize, &batchValue);
  napi_create_uint32(env, sendSlots, &slotsValue);
  props[7] = {"batchSize", nullptr, nullptr, nullptr, nullptr, batchValue, napi_enumerable, nullptr};
  props[8] = {"sendSlots", nullptr, nullptr, nullptr, nullptr, slotsValue, napi_enumerable, nullptr};
  napi_define_properties(env, self, 9, props);
  return self;
}

}  // namespace

void RegisterUdpSet(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"open", nullptr, SetOpen, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"closeSocket", nullptr, SetCloseSocket, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"start", nullptr, SetStart, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"stop", nullptr, SetStop, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"send", nullptr, SetSend, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"close", nullptr, SetClose, nullptr, nullptr, nullptr, napi_default_method, nullptr},
  };
  napi_value ctor;
  napi_define_class(env, "UdpSet", NAPI_AUTO_LENGTH, ConstructSet, nullptr, sizeof methods / sizeof methods[0], methods,
                    &ctor);
  napi_set_named_property(env, exports, "UdpSet", ctor);
  napi_value count;
  napi_create_uint32(env, kSetCounterCount, &count);
  napi_set_named_property(env, exports, "setCounterCount", count);
}

}  // namespace masq_udp

#endif  // __linux__
