/**
 * The STUN load generator used by bench/stun-serve.ts: a small C program
 * (epoll, sendmmsg/recvmmsg) compiled with gcc into a temp directory, so the
 * generator is not the bottleneck and both servers face the same load.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LOADGEN_C = String.raw`/*
 * STUN Binding load generator for bench/stun-serve.ts (compiled on the fly).
 * Closed loop: each of SOCKETS connected UDP sockets keeps WINDOW requests in
 * flight and sends a new one per answer; a socket silent for 50 ms has its
 * window refilled (its requests were lost). Counts valid Binding success
 * responses received between WARMUP_MS and WARMUP_MS + DURATION_MS.
 *
 * usage: stun-loadgen HOST PORT SOCKETS WINDOW WARMUP_MS DURATION_MS
 * prints: answered=N lost_refills=N seconds=S rate=R
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXSOCK 1024

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct {
  int fd;
  int outstanding;
  double last_rx;
  uint64_t seq;
} sock_t;

static sock_t socks[MAXSOCK];
static unsigned char reqbuf[BATCH][20];

static void send_n(sock_t *s, int idx, int n) {
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  while (n > 0) {
    int k = n > BATCH ? BATCH : n;
    for (int i = 0; i < k; i++) {
      unsigned char *b = reqbuf[i];
      b[0] = 0x00; b[1] = 0x01; b[2] = 0; b[3] = 0;
      b[4] = 0x21; b[5] = 0x12; b[6] = 0xa4; b[7] = 0x42;
      memcpy(b + 8, &idx, 4);
      uint64_t q = s->seq++;
      memcpy(b + 12, &q, 8);
      iov[i].iov_base = b;
      iov[i].iov_len = 20;
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(s->fd, msgs, k, 0);
    if (sent <= 0) return; /* buffer full: the loss timer refills later */
    s->outstanding += sent;
    n -= sent;
  }
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s HOST PORT SOCKETS WINDOW WARMUP_MS DURATION_MS\n", argv[0]);
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]), nsock = atoi(argv[3]), window = atoi(argv[4]);
  double warmup = atof(argv[5]), duration = atof(argv[6]);
  if (nsock < 1 || nsock > MAXSOCK || window < 1) return 2;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return 2;
  int ep = epoll_create1(0);
  for (int i = 0; i < nsock; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("connect"); return 1; }
    socks[i].fd = fd;
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  double start = now_ms(), measure_from = start + warmup, end = measure_from + duration;
  for (int i = 0; i < nsock; i++) { socks[i].last_rx = start; send_n(&socks[i], i, window); }
  unsigned long answered = 0, refills = 0;
  double last_check = start;
  unsigned char rx[BATCH][1500];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct epoll_event events[64];
  for (;;) {
    double t = now_ms();
    if (t >= end) break;
    int n = epoll_wait(ep, events, 64, 10);
    t = now_ms();
    for (int e = 0; e < n; e++) {
      int i = events[e].data.u32;
      sock_t *s = &socks[i];
      for (;;) {
        for (int k = 0; k < BATCH; k++) {
          iov[k].iov_base = rx[k];
          iov[k].iov_len = sizeof rx[k];
          memset(&msgs[k], 0, sizeof msgs[k]);
          msgs[k].msg_hdr.msg_iov = &iov[k];
          msgs[k].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(s->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        int ok = 0;
        for (int k = 0; k < got; k++) {
          unsigned char *b = rx[k];
          if (msgs[k].msg_len >= 20 && b[0] == 0x01 && b[1] == 0x01 && b[4] == 0x21 && b[5] == 0x12 && b[6] == 0xa4 && b[7] == 0x42) ok++;
        }
        s->outstanding -= ok;
        if (s->outstanding < 0) s->outstanding = 0;
        if (t >= measure_from && t < end) answered += ok;
        s->last_rx = t;
        if (got < BATCH) break;
      }
      if (s->outstanding < window) send_n(s, i, window - s->outstanding);
    }
    if (t - last_check >= 50) {
      last_check = t;
      for (int i = 0; i < nsock; i++) {
        if (t - socks[i].last_rx > 50) {
          socks[i].outstanding = 0;
          socks[i].last_rx = t;
          refills++;
          send_n(&socks[i], i, window);
        }
      }
    }
  }
  double secs = duration / 1e3;
  printf("answered=%lu lost_refills=%lu seconds=%.3f rate=%.0f\n", answered, refills, secs, answered / secs);
  return 0;
}
`;

/** Compiles the generator; returns the binary's path and the temp directory holding it. */
export function compileLoadgen(): { binary: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'masq-stun-loadgen-'));
  const source = join(dir, 'stun-loadgen.c');
  const binary = join(dir, 'stun-loadgen');
  writeFileSync(source, LOADGEN_C);
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', binary, source], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed:\n${r.stderr}`);
  return { binary, dir };
}
