// masq_udp: UDP sockets read and written in batches from Node's main event
// loop.
//
// Why this shape: node:dgram costs one system call and one crossing into
// JavaScript per datagram received, and one system call per datagram sent. A
// server answering small requests (STUN, rendezvous) spends most of its time
// there. Here the socket is non-blocking and watched with uv_poll on the main
// loop; each readable wake reads up to `batchSize` datagrams with one
// recvmmsg() into one preallocated buffer and crosses into JS once. Sends are
// queued by JS in a shared buffer and go out with one sendmmsg() per call.
// Where the kernel has them, consecutive equal-sized datagrams to one peer
// leave as one UDP GSO message (UDP_SEGMENT), and a socket may take GRO
// super-datagrams (UDP_GRO) that JS splits at the segment size. Nothing
// blocks, nothing runs off the main thread.
//
// JS surface (wrapped by src/net/batched-udp.ts; that file is the API):
//   new UdpHandle(family, address, port, batchSize, slotSize, sendSlots, sendBytes, flags, rcvbuf, sndbuf)
//       binds; family 4 or 6; flags: kReusePort, kGro, kGso, kRecvErr, kV6Only
//   .fd .family .localAddress .localPort .batchSize .slotSize .sendSlots  plain values
//   .gso .gro                                      whether the kernel took them
//   .readBuffer (ArrayBuffer, batchSize x slotSize)  datagram i of a wake in slot i
//   .readMeta (ArrayBuffer, batchSize x kMetaStride uint32)   see enum Meta
//   .sendBuffer (ArrayBuffer, sendBytes)           datagrams queued by JS
//   .sendMeta (ArrayBuffer, sendSlots x kMetaStride uint32)   their meta, same layout
//   .counters (ArrayBuffer, kCounterCount x float64)          see enum Counter
//   .start(onBatch(count), onWritable(), onError(negErrno, syscall))   begin polling
//   .stop()
//   .send(count) -> consumed     sends queued entries 0..count-1; consumed < count
//                                only when the socket buffer is full (EAGAIN);
//                                entries the kernel refuses count as consumed
//   .waitWritable()              call onWritable once the socket takes data again
//   .close()                     idempotent
//   module: .abiVersion .counterCount .metaStride .flagReusePort .flagGro
//           .flagGso .flagRecvErr .flagV6Only .ifName(index) .ifIndex(name)

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
#include <sys/uio.h>
#include <unistd.h>

#include <linux/errqueue.h>

#include "udp-shared.h"

namespace masq_udp {

// Bumped whenever the JS surface changes, so a stale build is refused by name.
constexpr uint32_t kAbiVersion = 2;
constexpr uint32_t kMaxBatch = 1024;
constexpr uint32_t kMaxSendSlots = 4096;
constexpr int kMaxEintrRetries = 8;
// Transient errors (an ICMP error reported on the socket) a wake reads past.
constexpr int kMaxTransientRetries = 8;
// Error-queue messages drained per wake (kRecvErr only).
constexpr int kMaxErrQueueDrain = 64;
// Error-only wakes in a row before the socket is given up as broken.
constexpr int kMaxErrorWakes = 1000;
// Segments per GSO message: the kernel's limit is 64 (UDP_MAX_SEGMENTS) on
// older kernels, 128 on newer ones.
constexpr uint32_t kMaxGsoSegments = 64;
// Largest UDP payload one message may carry (IPv4: 65535 - 20 - 8).
constexpr uint32_t kMaxUdpPayload = 65507;

// Shared with JS as a Float64Array: doubles count exactly to 2^53.
enum Counter {
  kWakes = 0,
  kDatagramsIn,     // messages read (a GRO buffer counts once)
  kGroBuffers,      // messages that were GRO super-datagrams
  kTruncated,       // longer than a slot: dropped, never half-delivered
  kRecvErrors,      // transient errors read past (ICMP-reported)
  kLastRecvErrno,
  kIcmpErrors,      // error-queue messages drained (kRecvErr)
  kDatagramsOut,    // datagrams the kernel took
  kSendCalls,       // sendmmsg() calls
  kGsoMessages,     // messages sent with UDP_SEGMENT
  kSendQueueFull,   // times a send hit EAGAIN
  kSendErrors,      // datagrams the kernel refused (dropped)
  kLastSendErrno,
  kGsoFallbacks,    // GSO messages the kernel refused, resent one datagram at a time
  kCounterCount
};

constexpr size_t kCmsgSpace = CMSG_SPACE(sizeof(int));

struct Sock {
  napi_env env = nullptr;
  int fd = -1;
  int family = 4;
  uv_poll_t poll;
  bool polling = false;
  bool wantWritable = false;
  bool closed = false;
  bool handleClosed = false;
  bool finalized = false;
  bool gso = false;
  bool gro = false;
  bool recvErr = false;
  uint32_t gsoLimit = kMaxUdpPayload;  // largest segment size GSO is tried with
  int errorWakes = 0;                  // EPOLLERR wakes in a row
  napi_ref self = nullptr;  // weak; strong while polling so the socket is not collected
  napi_ref onBatch = nullptr;
  napi_ref onWritable = nullptr;
  napi_ref onError = nullptr;
  napi_ref readBuffer = nullptr;
  napi_ref readMeta = nullptr;
  napi_ref sendBuffer = nullptr;
  napi_ref sendMeta = nullptr;
  napi_ref counters = nullptr;
  napi_async_context async = nullptr;
  napi_async_cleanup_hook_handle cleanupHook = nullptr;
  uint8_t* readData = nullptr;
  uint32_t* rmeta = nullptr;
  uint8_t* sendData = nullptr;
  size_t sendBytes = 0;
  uint32_t* smeta = nullptr;
  double* counter = nullptr;
  uint32_t batchSize = 0;
  uint32_t slotSize = 0;
  uint32_t sendSlots = 0;
  // Scratch for the system calls, sized once.
  struct mmsghdr* rmsgs = nullptr;
  struct iovec* riov = nullptr;
  struct sockaddr_storage* raddr = nullptr;
  uint8_t* rcmsg = nullptr;
  struct mmsghdr* smsgs = nullptr;
  struct iovec* siov = nullptr;
  struct sockaddr_storage* saddr = nullptr;
  uint8_t* scmsg = nullptr;
  uint32_t* firstEntry = nullptr;  // per send message: its first queue entry
  uint32_t* entryCount = nullptr;  // per send message: how many entries it carries
};

// ---------------------------------------------------------------- errors




// ---------------------------------------------------------------- lifecycle


void FreeScratch(Sock* s) {
  free(s->rmsgs);
  free(s->riov);
  free(s->raddr);
  free(s->rcmsg);
  free(s->smsgs);
  free(s->siov);
  free(s->saddr);
  free(s->scmsg);
  free(s->firstEntry);
  free(s->entryCount);
  s->rmsgs = nullptr;
  s->smsgs = nullptr;
}

void Delete(Sock* s) {
  FreeScratch(s);
  delete s;
}

void OnHandleClosed(uv_handle_t* handle) {
  Sock* s = static_cast<Sock*>(handle->data);
  s->handleClosed = true;
  if (s->cleanupHook != nullptr) {
    napi_remove_async_cleanup_hook(s->cleanupHook);
    s->cleanupHook = nullptr;
  }
  if (s->finalized) Delete(s);
}

void OnPoll(uv_poll_t* handle, int status, int events);

int PollEvents(Sock* s) { return UV_READABLE | (s->wantWritable ? UV_WRITABLE : 0); }

// Starts, restarts (new event set) or stops the poll to match the state.
int UpdatePoll(Sock* s, bool reading) {
  if (s->closed) return 0;
  if (!reading && !s->wantWritable) {
    if (s->polling) {
      uv_poll_stop(&s->poll);
      s->polling = false;
      if (s->self != nullptr) napi_reference_unref(s->env, s->self, nullptr);
    }
    return 0;
  }
  int events = reading ? PollEvents(s) : UV_WRITABLE;
  int rc = uv_poll_start(&s->poll, events, OnPoll);
  if (rc == 0 && !s->polling) {
    s->polling = true;
    napi_reference_ref(s->env, s->self, nullptr);
  }
  return rc;
}

bool IsReading(Sock* s) { return s->onBatch != nullptr; }

void CloseSock(Sock* s) {
  if (s->closed) return;
  if (s->polling) {
    uv_poll_stop(&s->poll);
    s->polling = false;
    if (s->self != nullptr) napi_reference_unref(s->env, s->self, nullptr);
  }
  s->closed = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&s->poll), OnHandleClosed);
  close(s->fd);
  s->fd = -1;
  DeleteRef(s->env, &s->onBatch);
  DeleteRef(s->env, &s->onWritable);
  DeleteRef(s->env, &s->onError);
  if (s->async != nullptr) {
    napi_async_destroy(s->env, s->async);
    s->async = nullptr;
  }
}

void AsyncCleanupHook(napi_async_cleanup_hook_handle handle, void* data) {
  Sock* s = static_cast<Sock*>(data);
  s->cleanupHook = handle;
  CloseSock(s);
}

void Finalize(napi_env env, void* data, void* /*hint*/) {
  Sock* s = static_cast<Sock*>(data);
  s->finalized = true;
  CloseSock(s);
  DeleteRef(env, &s->readBuffer);
  DeleteRef(env, &s->readMeta);
  DeleteRef(env, &s->sendBuffer);
  DeleteRef(env, &s->sendMeta);
  DeleteRef(env, &s->counters);
  DeleteRef(env, &s->self);
  if (s->handleClosed) Delete(s);
}

// ---------------------------------------------------------------- calling JS

void CallJs(Sock* s, napi_ref fnRef, size_t argc, napi_value* argv) {
  masq_udp::CallJs(s->env, s->async, s->self, fnRef, argc, argv);
}

void ReportError(Sock* s, int err, const char* syscall) {
  DeleteRef(s->env, &s->onBatch);
  s->wantWritable = false;
  UpdatePoll(s, false);
  CallOnError(s->env, s->async, s->self, &s->onError, err, syscall);
}


bool AnyDetached(Sock* s) {
  return IsDetached(s->env, s->readBuffer) || IsDetached(s->env, s->readMeta) || IsDetached(s->env, s->sendBuffer) ||
         IsDetached(s->env, s->sendMeta) || IsDetached(s->env, s->counters);
}

// ---------------------------------------------------------------- addresses



bool SameDestination(const uint32_t* a, const uint32_t* b) {
  return a[kPort] == b[kPort] && a[kFamily] == b[kFamily] && a[kAddr0] == b[kAddr0] && a[kAddr1] == b[kAddr1] &&
         a[kAddr2] == b[kAddr2] && a[kAddr3] == b[kAddr3] && a[kScope] == b[kScope];
}

// ---------------------------------------------------------------- reading

// With kRecvErr an ICMP error is also queued on the socket's error queue,
// which shares the receive buffer's budget: drained here so it never crowds
// out datagrams.
void DrainErrorQueue(Sock* s) {
  uint8_t control[512];
  uint8_t data[64];
  for (int i = 0; i < kMaxErrQueueDrain; i++) {
    struct iovec iov = {data, sizeof data};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(s->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    s->counter[kIcmpErrors] += 1;
  }
}

// After EPOLLERR: reads (clears) the socket's pending error and drains the
// error queue. False when the fd itself is bad, or the error keeps coming
// back without anything else happening (then reading stops, reported).
bool ClearSocketError(Sock* s) {
  if (++s->errorWakes > kMaxErrorWakes) return false;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return false;
  if (err != 0) {
    s->counter[kRecvErrors] += 1;
    s->counter[kLastRecvErrno] = err;
  }
  DrainErrorQueue(s);
  return true;
}

uint32_t ReadBatch(Sock* s, int* fatal) {
  const uint32_t n = s->batchSize;
  for (uint32_t i = 0; i < n; i++) {
    s->riov[i].iov_base = s->readData + static_cast<size_t>(i) * s->slotSize;
    s->riov[i].iov_len = s->slotSize;
    struct msghdr* h = &s->rmsgs[i].msg_hdr;
    h->msg_name = &s->raddr[i];
    h->msg_namelen = sizeof(struct sockaddr_storage);
    h->msg_iov = &s->riov[i];
    h->msg_iovlen = 1;
    h->msg_control = s->gro ? s->rcmsg + i * kCmsgSpace : nullptr;
    h->msg_controllen = s->gro ? kCmsgSpace : 0;
    h->msg_flags = 0;
    s->rmsgs[i].msg_len = 0;
  }
  int got = -1;
  int eintr = 0, transient = 0;
  for (;;) {
    got = recvmmsg(s->fd, s->rmsgs, n, MSG_DONTWAIT, nullptr);
    if (got >= 0) break;
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return 0;
    if (err == EINTR && eintr++ < kMaxEintrRetries) continue;
    if (IsTransient(err) && transient++ < kMaxTransientRetries) {
      s->counter[kRecvErrors] += 1;
      s->counter[kLastRecvErrno] = err;
      continue;
    }
    *fatal = err;
    return 0;
  }
  uint32_t count = 0;
  for (int i = 0; i < got; i++) {
    const struct msghdr* h = &s->rmsgs[i].msg_hdr;
    if (h->msg_flags & MSG_TRUNC) {
      s->counter[kTruncated] += 1;
      continue;
    }
    uint32_t* m = s->rmeta + count * kMetaStride;
    m[kOffset] = static_cast<uint32_t>(i) * s->slotSize;
    m[kLength] = s->rmsgs[i].msg_len;
    m[kSegment] = 0;
    AddressToMeta(&s->raddr[i], m);
    if (s->gro) {
      for (struct cmsghdr* c = CMSG_FIRSTHDR(h); c != nullptr; c = CMSG_NXTHDR(const_cast<struct msghdr*>(h), c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int seg;
          memcpy(&seg, CMSG_DATA(c), sizeof seg);
          if (seg > 0 && static_cast<uint32_t>(seg) < m[kLength]) {
            m[kSegment] = static_cast<uint32_t>(seg);
            s->counter[kGroBuffers] += 1;
          }
        }
      }
    }
    count++;
  }
  s->counter[kDatagramsIn] += count;
  return count;
}

void OnPoll(uv_poll_t* handle, int status, int events) {
  Sock* s = static_cast<Sock*>(handle->data);
  if (s->closed || !s->polling) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  const bool errorWake = status == UV_EBADF;
  if (errorWake && ClearSocketError(s)) {
    // libuv reports EPOLLERR as EBADF and stops the handle: an error left on
    // the socket by an ICMP message (kRecvErr), now read and counted. Polling
    // resumes, and whatever else is ready is read below.
    events = UV_READABLE | (s->wantWritable ? UV_WRITABLE : 0);
    if (uv_poll_start(&s->poll, PollEvents(s), OnPoll) != 0) status = UV_EBADF;
    else status = 0;
  }
  if (status < 0) {
    ReportError(s, -status, "poll");
    napi_close_handle_scope(env, scope);
    return;
  }
  if (!errorWake) s->errorWakes = 0;
  if (AnyDetached(s)) {
    ReportError(s, EFAULT, "recvmmsg (buffer detached)");
    napi_close_handle_scope(env, scope);
    return;
  }
  if ((events & UV_WRITABLE) && s->wantWritable) {
    s->wantWritable = false;
    UpdatePoll(s, IsReading(s));
    CallJs(s, s->onWritable, 0, nullptr);
  }
  if ((events & UV_READABLE) && !s->closed && IsReading(s)) {
    s->counter[kWakes] += 1;
    if (s->recvErr) DrainErrorQueue(s);
    int fatal = 0;
    uint32_t count = ReadBatch(s, &fatal);
    if (count > 0) {
      s->errorWakes = 0;
      napi_value argv[1];
      napi_create_uint32(env, count, &argv[0]);
      CallJs(s, s->onBatch, 1, argv);
    }
    if (fatal != 0 && !s->closed) ReportError(s, fatal, "recvmmsg");
  }
  napi_close_handle_scope(env, scope);
}

// ---------------------------------------------------------------- sending

// One message per entry, or (GSO) one message for a run of entries to the
// same peer, all of one size but the last, which may be shorter.
uint32_t BuildMessages(Sock* s, uint32_t from, uint32_t count, bool gso) {
  uint32_t msgs = 0;
  uint32_t i = from;
  while (i < count) {
    const uint32_t* m = s->smeta + i * kMetaStride;
    struct mmsghdr* mm = &s->smsgs[msgs];
    struct msghdr* h = &mm->msg_hdr;
    memset(mm, 0, sizeof *mm);
    h->msg_name = &s->saddr[msgs];
    h->msg_namelen = MetaToAddress(s->family, m, &s->saddr[msgs]);
    h->msg_iov = &s->siov[i];
    s->siov[i].iov_base = s->sendData + m[kOffset];
    s->siov[i].iov_len = m[kLength];
    uint32_t n = 1;
    const uint32_t seg = m[kLength];
    if (gso && seg > 0 && seg <= s->gsoLimit && h->msg_namelen != 0) {
      uint32_t total = seg;
      while (i + n < count && n < kMaxGsoSegments) {
        const uint32_t* next = s->smeta + (i + n) * kMetaStride;
        const uint32_t len = next[kLength];
        if (len == 0 || len > seg || total + len > kMaxUdpPayload || !SameDestination(m, next)) break;
        s->siov[i + n].iov_base = s->sendData + next[kOffset];
        s->siov[i + n].iov_len = len;
        total += len;
        n++;
        if (len < seg) break;  // a shorter datagram ends the run
      }
      if (n > 1) {
        h->msg_control = s->scmsg + msgs * kCmsgSpace;
        h->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        memset(h->msg_control, 0, h->msg_controllen);
        struct cmsghdr* c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t size = static_cast<uint16_t>(seg);
        memcpy(CMSG_DATA(c), &size, sizeof size);
      }
    }
    h->msg_iovlen = n;
    s->firstEntry[msgs] = i;
    s->entryCount[msgs] = n;
    msgs++;
    i += n;
  }
  return msgs;
}

int SendOne(Sock* s, struct msghdr* h) {
  int tries = 0;
  for (;;) {
    if (sendmsg(s->fd, h, MSG_DONTWAIT) >= 0) return 0;
    if (errno == EINTR && tries++ < kMaxEintrRetries) continue;
    return errno;
  }
}

void Refused(Sock* s, int err, uint32_t datagrams) {
  s->counter[kSendErrors] += datagrams;
  s->counter[kLastSendErrno] = err;
}

// A message the kernel refused: an error left on the socket by an earlier
// ICMP message is reported once by whichever call comes next, and does not
// concern this datagram, so it is tried again once. A GSO message the kernel
// or the route cannot segment goes out one datagram at a time instead (EIO:
// the device has no checksum offload, so GSO stays off for this socket).
// Returns 0 when everything the message carried was dealt with (sent or
// refused), or EAGAIN.
int Retry(Sock* s, uint32_t msg, int err) {
  struct msghdr* h = &s->smsgs[msg].msg_hdr;
  const uint32_t n = s->entryCount[msg];
  if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == ECONNRESET || err == EHOSTDOWN) {
    err = SendOne(s, h);
    if (err == 0) {
      s->counter[kDatagramsOut] += n;
      if (n > 1) s->counter[kGsoMessages] += 1;
      return 0;
    }
    if (err == EAGAIN || err == EWOULDBLOCK) {
      s->entryCount[msg] = 0;  // nothing of it went out: it stays queued
      return EAGAIN;
    }
  }
  if (n == 1) {
    Refused(s, err, 1);
    return 0;
  }
  s->counter[kGsoFallbacks] += 1;
  if (err == EIO) s->gso = false;
  // The route's MTU (or the kernel) refuses segments this large: runs of them
  // are not grouped again.
  if (err == EINVAL || err == EMSGSIZE) {
    const uint32_t seg = static_cast<uint32_t>(h->msg_iov[0].iov_len);
    if (seg <= s->gsoLimit) s->gsoLimit = seg - 1;
  }
  struct iovec* iov = h->msg_iov;
  for (uint32_t k = 0; k < n; k++) {
    struct msghdr one = *h;
    one.msg_iov = &iov[k];
    one.msg_iovlen = 1;
    one.msg_control = nullptr;
    one.msg_controllen = 0;
    int e = SendOne(s, &one);
    if (e == 0) {
      s->counter[kDatagramsOut] += 1;
    } else if (e == EAGAIN || e == EWOULDBLOCK) {
      // The datagrams before k went out: the caller keeps the rest queued.
      s->entryCount[msg] = k;
      return EAGAIN;
    } else {
      Refused(s, e, 1);
    }
  }
  return 0;
}

// Sends entries 0..count-1; returns how many were consumed (sent or refused).
uint32_t SendQueued(Sock* s, uint32_t count) {
  uint32_t msgs = BuildMessages(s, 0, count, s->gso);
  uint32_t done = 0;  // messages dealt with
  int eintr = 0;
  while (done < msgs) {
    int r = sendmmsg(s->fd, s->smsgs + done, msgs - done, MSG_DONTWAIT);
    s->counter[kSendCalls] += 1;
    if (r > 0) {
      for (int k = 0; k < r; k++) {
        const uint32_t n = s->entryCount[done + k];
        s->counter[kDatagramsOut] += n;
        if (n > 1) s->counter[kGsoMessages] += 1;
      }
      done += static_cast<uint32_t>(r);
      continue;
    }
    int err = errno;
    if (err == EINTR && eintr++ < kMaxEintrRetries) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) break;
    if (Retry(s, done, err) == EAGAIN) {
      s->counter[kSendQueueFull] += 1;
      return s->firstEntry[done] + s->entryCount[done];
    }
    done++;
  }
  if (done == msgs) return count;
  s->counter[kSendQueueFull] += 1;
  return s->firstEntry[done];
}


// ---------------------------------------------------------------- methods

Sock* Unwrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  return static_cast<Sock*>(UnwrapThis(env, info, argc, argv, "not a UdpHandle"));
}

bool ThrowIfClosed(napi_env env, Sock* s) { return masq_udp::ThrowIfClosed(env, s->closed, "UDP socket is closed"); }

napi_value Start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  Sock* s = Unwrap(env, info, &argc, argv);
  if (s == nullptr || ThrowIfClosed(env, s)) return nullptr;
  napi_ref* callbacks[] = {&s->onBatch, &s->onWritable, &s->onError};
  if (!TakeCallbacks(env, argc, argv, callbacks, 3, "start(onBatch, onWritable, onError) takes three functions")) {
    return nullptr;
  }
  int rc = UpdatePoll(s, true);
  if (rc != 0) {
    ThrowSystemError(env, -rc, "uv_poll_start", "UDP socket");
    return nullptr;
  }
  return nullptr;
}

napi_value Stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s == nullptr || s->closed) return nullptr;
  DeleteRef(env, &s->onBatch);
  UpdatePoll(s, false);
  return nullptr;
}

napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s != nullptr) CloseSock(s);
  return nullptr;
}

napi_value WaitWritable(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s == nullptr || ThrowIfClosed(env, s)) return nullptr;
  if (s->onWritable == nullptr) {
    napi_throw_error(env, "ERR_INVALID_STATE", "waitWritable() before start()");
    return nullptr;
  }
  s->wantWritable = true;
  int rc = UpdatePoll(s, IsReading(s));
  if (rc != 0) {
    s->wantWritable = false;
    ThrowSystemError(env, -rc, "uv_poll_start", "UDP socket");
  }
  return nullptr;
}

napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Sock* s = Unwrap(env, info, &argc, argv);
  if (s == nullptr || ThrowIfClosed(env, s)) return nullptr;
  uint32_t count;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &count) != napi_ok || count > s->sendSlots) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "send(count): count must be a number no larger than sendSlots");
    return nullptr;
  }
  if (AnyDetached(s)) {
    napi_throw_error(env, "ERR_INVALID_STATE", "a shared buffer is detached");
    return nullptr;
  }
  if (ThrowIfBadQueue(env, s->smeta, count, s->sendBytes)) return nullptr;
  uint32_t consumed = count == 0 ? 0 : SendQueued(s, count);
  napi_value result;
  napi_create_uint32(env, consumed, &result);
  return result;
}

// ---------------------------------------------------------------- opening







napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_value self;
  if (ThrowIfFailed(env, napi_get_cb_info(env, info, &argc, argv, &self, nullptr), "bad call")) return nullptr;
  const char* usage =
      "new UdpHandle(family, address, port, batchSize, slotSize, sendSlots, sendBytes, flags, rcvbuf, sndbuf)";
  uint32_t family, port, batchSize, slotSize, sendSlots, sendBytes, flags, rcvbuf, sndbuf;
  char address[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  uint32_t* const numbers[] = {&family, &port, &batchSize, &slotSize, &sendSlots, &sendBytes, &flags, &rcvbuf, &sndbuf};
  const int positions[] = {0, 2, 3, 4, 5, 6, 7, 8, 9};
  if (!GetUint32Args(env, argc, argv, positions, numbers, 9, usage)) return nullptr;
  if (!GetString(env, argv[1], address, sizeof address, "address must be an IP literal")) return nullptr;
  const uint32_t knownFlags = kReusePort | kGro | kGso | kRecvErr | kV6Only;
  if ((family != 4 && family != 6) || port > 65535 || batchSize < 1 || batchSize > kMaxBatch || slotSize < 1 ||
      slotSize > 65536 || sendSlots < 1 || sendSlots > kMaxSendSlots || sendBytes < 1 || sendBytes > (64u << 20) ||
      (flags & ~knownFlags) != 0 || rcvbuf > INT32_MAX || sndbuf > INT32_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "family 4 or 6, port 0..65535, batchSize 1..1024, slotSize 1..65536, sendSlots 1..4096, "
                           "sendBytes 1..64 MiB, known flags");
    return nullptr;
  }
  bool gso = false, gro = false;
  const int fd = OpenBound(env, family, address, port, flags, rcvbuf, sndbuf, slotSize >= 65535, &gso, &gro);
  if (fd < 0) return nullptr;
  char localText[INET6_ADDRSTRLEN];
  uint32_t localPort;
  LocalAddress(fd, localText, sizeof localText, &localPort);

  Sock* s = new Sock();
  s->env = env;
  s->fd = fd;
  s->family = static_cast<int>(family);
  s->gso = gso;
  s->gro = gro;
  s->recvErr = (flags & kRecvErr) != 0;
  s->batchSize = batchSize;
  s->slotSize = slotSize;
  s->sendSlots = sendSlots;
  s->sendBytes = sendBytes;
  s->rmsgs = Alloc<struct mmsghdr>(batchSize);
  s->riov = Alloc<struct iovec>(batchSize);
  s->raddr = Alloc<struct sockaddr_storage>(batchSize);
  s->rcmsg = Alloc<uint8_t>(batchSize * kCmsgSpace);
  s->smsgs = Alloc<struct mmsghdr>(sendSlots);
  s->siov = Alloc<struct iovec>(sendSlots);
  s->saddr = Alloc<struct sockaddr_storage>(sendSlots);
  s->scmsg = Alloc<uint8_t>(sendSlots * kCmsgSpace);
  s->firstEntry = Alloc<uint32_t>(sendSlots);
  s->entryCount = Alloc<uint32_t>(sendSlots);

  void *readData, *rmetaData, *sendData, *smetaData, *counterData;
  // The read buffer is not cleared: JS only looks at bytes a read has just
  // written, and untouched pages stay unbacked (a wake of small datagrams
  // touches one page per slot).
  napi_value readBuffer = CreateSharedArray(env, static_cast<size_t>(batchSize) * slotSize, &readData, &s->readBuffer, false);
  napi_value readMeta = CreateSharedArray(env, batchSize * kMetaStride * sizeof(uint32_t), &rmetaData, &s->readMeta, true);
  napi_value sendBuffer = CreateSharedArray(env, sendBytes, &sendData, &s->sendBuffer, false);
  napi_value sendMeta = CreateSharedArray(env, sendSlots * kMetaStride * sizeof(uint32_t), &smetaData, &s->sendMeta, true);
  napi_value counterBuffer = CreateSharedArray(env, kCounterCount * sizeof(double), &counterData, &s->counters, true);
  if (readBuffer == nullptr || readMeta == nullptr || sendBuffer == nullptr || sendMeta == nullptr ||
      counterBuffer == nullptr || s->rmsgs == nullptr || s->riov == nullptr || s->raddr == nullptr ||
      s->rcmsg == nullptr || s->smsgs == nullptr || s->siov == nullptr || s->saddr == nullptr || s->scmsg == nullptr ||
      s->firstEntry == nullptr || s->entryCount == nullptr) {
    DeleteRef(env, &s->readBuffer);
    DeleteRef(env, &s->readMeta);
    DeleteRef(env, &s->sendBuffer);
    DeleteRef(env, &s->sendMeta);
    DeleteRef(env, &s->counters);
    close(fd);
    Delete(s);
    napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "could not allocate UDP socket buffers");
    return nullptr;
  }
  s->readData = static_cast<uint8_t*>(readData);
  s->rmeta = static_cast<uint32_t*>(rmetaData);
  s->sendData = static_cast<uint8_t*>(sendData);
  s->smeta = static_cast<uint32_t*>(smetaData);
  s->counter = static_cast<double*>(counterData);

  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;

  napi_value asyncName;
  napi_create_string_utf8(env, "masq.UdpSocket", NAPI_AUTO_LENGTH, &asyncName);
  napi_async_init(env, nullptr, asyncName, &s->async);
  napi_wrap(env, self, s, Finalize, nullptr, &s->self);
  napi_add_async_cleanup_hook(env, AsyncCleanupHook, s, &s->cleanupHook);

  napi_value fdValue, familyValue, addressValue, portValue, batchValue, slotValue, slotsValue, gsoValue, groValue;
  napi_create_int32(env, fd, &fdValue);
  napi_create_uint32(env, family, &familyValue);
  napi_create_string_utf8(env, localText, NAPI_AUTO_LENGTH, &addressValue);
  napi_create_uint32(env, localPort, &portValue);
  napi_create_uint32(env, batchSize, &batchValue);
  napi_create_uint32(env, slotSize, &slotValue);
  napi_create_uint32(env, sendSlots, &slotsValue);
  napi_get_boolean(env, gso, &gsoValue);
  napi_get_boolean(env, gro, &groValue);
  napi_property_descriptor props[] = {
      {"fd", nullptr, nullptr, nullptr, nullptr, fdValue, napi_enumerable, nullptr},
      {"family", nullptr, nullptr, nullptr, nullptr, familyValue, napi_enumerable, nullptr},
      {"localAddress", nullptr, nullptr, nullptr, nullptr, addressValue, napi_enumerable, nullptr},
      {"localPort", nullptr, nullptr, nullptr, nullptr, portValue, napi_enumerable, nullptr},
      {"batchSize", nullptr, nullptr, nullptr, nullptr, batchValue, napi_enumerable, nullptr},
      {"slotSize", nullptr, nullptr, nullptr, nullptr, slotValue, napi_enumerable, nullptr},
      {"sendSlots", nullptr, nullptr, nullptr, nullptr, slotsValue, napi_enumerable, nullptr},
      {"gso", nullptr, nullptr, nullptr, nullptr, gsoValue, napi_enumerable, nullptr},
      {"gro", nullptr, nullptr, nullptr, nullptr, groValue, napi_enumerable, nullptr},
      {"readBuffer", nullptr, nullptr, nullptr, nullptr, readBuffer, napi_enumerable, nullptr},
      {"readMeta", nullptr, nullptr, nullptr, nullptr, readMeta, napi_enumerable, nullptr},
      {"sendBuffer", nullptr, nullptr, nullptr, nullptr, sendBuffer, napi_enumerable, nullptr},
      {"sendMeta", nullptr, nullptr, nullptr, nullptr, sendMeta, napi_enumerable, nullptr},
      {"counters", nullptr, nullptr, nullptr, nullptr, counterBuffer, napi_enumerable, nullptr},
  };
  napi_define_properties(env, self, sizeof props / sizeof props[0], props);
  return self;
}

// The interface name of an IPv6 scope id (what node:dgram shows after "%").
napi_value IfName(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint32_t index = 0;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &index) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "ifName(index)");
    return nullptr;
  }
  char name[IF_NAMESIZE];
  napi_value result;
  if (index != 0 && if_indextoname(index, name) != nullptr) {
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result);
  } else {
    napi_get_undefined(env, &result);
  }
  return result;
}

// The scope id of an interface name (IPv6 link-local destinations).
napi_value IfIndex(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char name[IF_NAMESIZE];
  if (argc < 1 || !GetString(env, argv[0], name, sizeof name, "ifIndex(name): name must be a short string")) {
    return nullptr;
  }
  napi_value result;
  napi_create_uint32(env, if_nametoindex(name), &result);
  return result;
}

}  // namespace masq_udp

NAPI_MODULE_INIT() {
  using namespace masq_udp;
  napi_property_descriptor methods[] = {
      {"start", nullptr, Start, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"stop", nullptr, Stop, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"send", nullptr, Send, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"waitWritable", nullptr, WaitWritable, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default_method, nullptr},
  };
  napi_value ctor;
  napi_define_class(env, "UdpHandle", NAPI_AUTO_LENGTH, Construct, nullptr, sizeof methods / sizeof methods[0], methods,
                    &ctor);
  napi_set_named_property(env, exports, "UdpHandle", ctor);
  napi_value ifName;
  napi_create_function(env, "ifName", NAPI_AUTO_LENGTH, IfName, nullptr, &ifName);
  napi_set_named_property(env, exports, "ifName", ifName);
  napi_value ifIndex;
  napi_create_function(env, "ifIndex", NAPI_AUTO_LENGTH, IfIndex, nullptr, &ifIndex);
  napi_set_named_property(env, exports, "ifIndex", ifIndex);
  const struct {
    const char* name;
    uint32_t value;
  } constants[] = {
      {"abiVersion", kAbiVersion},   {"counterCount", kCounterCount}, {"metaStride", kMetaStride},
      {"flagReusePort", kReusePort}, {"flagGro", kGro},               {"flagGso", kGso},
      {"flagRecvErr", kRecvErr},     {"flagV6Only", kV6Only},
  };
  for (const auto& c : constants) {
    napi_value v;
    napi_create_uint32(env, c.value, &v);
    napi_set_named_property(env, exports, c.name, v);
  }
  RegisterUdpSet(env, exports);
  return exports;
}

#else  // not Linux: an empty module, so the build succeeds everywhere; the
       // TypeScript side sees no UdpHandle and uses node:dgram.

NAPI_MODULE_INIT() { return exports; }

#endif
