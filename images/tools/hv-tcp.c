/*
 * hv-tcp: TCP throughput between two guests, timed in the guest, with the
 * bytes checked, the way iperf measures a path: 64 KiB writes and reads, no
 * pipe or shell in the way (busybox nc copies in a few KiB at a time with a
 * poll(2) each, so a transfer through it measures nc's system calls).
 *   hv-tcp recv PORT            accept one connection on PORT, read until the
 *                               sender closes, check every byte, print
 *   HV-TCP received bytes=67108864 ms=2714 mbps=197.80 pattern=ok
 *   hv-tcp send ADDR PORT MIB   connect to ADDR (dotted IPv4), send MIB MiB
 *   HV-TCP sent bytes=67108864 ms=2690 mbps=199.57
 * The stream is a fixed pseudo-random block of 64 KiB whose 32-bit words
 * have the block's number added, so a lost, repeated, reordered or changed
 * block shows: the receiver reports the first wrong byte
 * (pattern=bad@OFFSET) and exits 1. The receiver's figure (from accept to
 * the sender's close) is the path's; the sender's ends when its last write
 * is queued. Exit status 0, 1 for a socket error or a bad pattern (a line on
 * stdout says which), 2 for bad arguments.
 */
#include "hv-sys.h"
#include "hv-text.h"

#define SYS_bind 361
#define SYS_connect 362
#define SYS_listen 363
#define SYS_accept4 364
#define SYS_setsockopt 366
#define SYS_recvmsg 372
#define SYS_shutdown 373
#define AF_INET 2
#define SOCK_STREAM 1
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define MSG_WAITALL 0x100
#define SHUT_WR 1
#define BLOCK 65536u
#define WORDS (BLOCK / 4)

static int sys5(int n, int a, int b, int c, int d, int e) {
  int r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e) : "memory");
  return r;
}

static u32 pattern[WORDS];
static u32 buffer[WORDS];

struct sockaddr_in {
  unsigned short family, port; /* port in network order */
  u8 addr[4];
  u8 zero[8];
};

static void make_pattern(void) {
  u32 x = 2463534242u;
  for (u32 i = 0; i < WORDS; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    pattern[i] = x;
  }
}

/* Dotted IPv4 into a[4]; -1 when it is not one. */
static int parse_ip(const char *s, u8 *a) {
  for (int i = 0; i < 4; i++) {
    u32 v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 4) v = v * 10 + (u32)(*s++ - '0'), digits++;
    if (digits == 0 || v > 255) return -1;
    a[i] = (u8)v;
    if (i < 3 && *s++ != '.') return -1;
  }
  return *s ? -1 : 0;
}

static void result(const char *what, u32 bytes, u32 us, const char *tail) {
  u32 ms = us / 1000 ? us / 1000 : 1;
  char line[160], *p = line;
  p = put(p, "HV-TCP ");
  p = put(p, what);
  p = put(p, " bytes=");
  p = putu(p, bytes);
  p = put(p, " ms=");
  p = putu(p, ms);
  p = put(p, " mbps=");
  p = put2(p, bytes / ms * 8 / 10); /* bytes/ms x 8 = kbit/ms = Mbit/s x 1000; /10: hundredths */
  p = put(p, tail);
  p = put(p, "\n");
  *p = 0;
  say(line);
}

static int fail(const char *why) {
  say("HV-TCP error: ");
  say(why);
  say("\n");
  return 1;
}

static int receive(u32 port) {
  struct sockaddr_in sa = {AF_INET, (unsigned short)(port >> 8 | (port & 0xff) << 8), {0, 0, 0, 0}, {0}};
  int one = 1;
  int fd = sys3(SYS_socket, AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail("cannot open a socket");
  sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_REUSEADDR, (int)&one, sizeof one);
  if (sys3(SYS_bind, fd, (int)&sa, sizeof sa) < 0) return fail("cannot bind the port");
  if (sys3(SYS_listen, fd, 1, 0) < 0) return fail("cannot listen");
  int c = sys5(SYS_accept4, fd, 0, 0, 0, 0);
  if (c < 0) return fail("accept failed");
  u32 t0 = now_us();
  u32 bytes = 0, bad = 0, bad_at = 0;
  struct { void *base; u32 len; } iov = {buffer, BLOCK};
  struct { void *name; u32 namelen; void *iov; u32 iovlen; void *control; u32 controllen; int flags; } msg = {0, 0, &iov, 1, 0, 0, 0};
  for (;;) {
    int n = sys3(SYS_recvmsg, c, (int)&msg, MSG_WAITALL);
    if (n < 0) return fail("the connection broke");
    if (n == 0) break;
    /* Whole words are checked; the sender sends whole blocks, so a short read is the last. */
    u32 block = bytes / BLOCK, first = bytes % BLOCK / 4;
    for (u32 i = 0; i < (u32)n / 4 && !bad; i++) {
      u32 w = first + i;
      if (buffer[i] != pattern[w % WORDS] + block + w / WORDS) bad = 1, bad_at = bytes + i * 4;
    }
    if ((n & 3) && !bad) bad = 1, bad_at = bytes + ((u32)n & ~3u);
    bytes += (u32)n;
  }
  u32 us = now_us() - t0;
  char tail[40], *p = tail;
  p = put(p, bad ? " pattern=bad@" : " pattern=ok");
  if (bad) p = putu(p, bad_at);
  *p = 0;
  result("received", bytes, us, tail);
  sys3(SYS_close, c, 0, 0);
  sys3(SYS_close, fd, 0, 0);
  return bad;
}

static int send(const char *addr, u32 port, u32 mib) {
  struct sockaddr_in sa = {AF_INET, (unsigned short)(port >> 8 | (port & 0xff) << 8), {0}, {0}};
  if (parse_ip(addr, sa.addr) < 0) {
    say("hv-tcp: ADDR is a dotted IPv4 address\n");
    return 2;
  }
  int fd = sys3(SYS_socket, AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail("cannot open a socket");
  if (sys3(SYS_connect, fd, (int)&sa, sizeof sa) < 0) return fail("cannot connect (is hv-tcp recv listening there?)");
  u32 t0 = now_us();
  u32 blocks = mib * (1024 * 1024 / BLOCK);
  for (u32 b = 0; b < blocks; b++) {
    for (u32 i = 0; i < WORDS; i++) buffer[i] = pattern[i] + b;
    for (u32 off = 0; off < BLOCK;) {
      int n = sys3(SYS_write, fd, (int)((u8 *)buffer + off), (int)(BLOCK - off));
      if (n <= 0) return fail("the connection broke");
      off += (u32)n;
    }
  }
  sys3(SYS_shutdown, fd, SHUT_WR, 0);
  u32 us = now_us() - t0;
  sys3(SYS_close, fd, 0, 0);
  result("sent", blocks * BLOCK, us, "");
  return 0;
}

int cmain(int argc, char **argv) {
  u32 port = 0, mib = 0;
  make_pattern();
  if (argc == 3 && same(argv[1], "recv") && parseu(argv[2], &port, 65535) == 0 && port > 0) return receive(port);
  if (argc == 5 && same(argv[1], "send") && parseu(argv[3], &port, 65535) == 0 && port > 0 && parseu(argv[4], &mib, 2047) == 0 && mib > 0)
    return send(argv[2], port, mib);
  say("usage: hv-tcp recv PORT | hv-tcp send ADDR PORT MIB  (PORT 1-65535, MIB 1-2047)\n");
  return 2;
}
