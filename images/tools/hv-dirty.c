/*
 * hv-dirty PAGES_PER_S [MIB]: changes PAGES_PER_S distinct 4 KiB pages of
 * its own memory a second, going round a region of MIB MiB (default 32),
 * until killed: the dirty-page load a live migration has to keep up with.
 * Every 10 ms it rewrites the next PAGES_PER_S/100 pages whole
 * (at least one: 100 pages/s at the least). Exit status 2 for bad arguments,
 * 1 when it gets no memory.
 */
#include "hv-sys.h"

#define SYS_brk 45
#define SYS_clock_nanosleep_time64 407

static int sys4(int n, int a, int b, int c, int d) {
  int r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
  return r;
}

static void say(const char *s) {
  int n = 0;
  while (s[n]) n++;
  sys3(SYS_write, 2, (int)s, n);
}

int cmain(int argc, char **argv) {
  u32 rate = 0, mib = 32;
  if (argc < 2 || argc > 3 || parseu(argv[1], &rate, 10000000) < 0 || rate == 0 || (argc == 3 && (parseu(argv[2], &mib, 2048) < 0 || mib == 0))) {
    say("usage: hv-dirty PAGES_PER_S [MIB]  (PAGES_PER_S above 0; MIB 1-2048, default 32)\n");
    return 2;
  }
  u32 pages = mib * 256;
  u32 base = (u32)sys3(SYS_brk, 0, 0, 0);
  u32 end = base + pages * 4096;
  if ((u32)sys3(SYS_brk, (int)end, 0, 0) != end) {
    say("hv-dirty: no memory for the region\n");
    return 1;
  }
  volatile u32 *mem = (volatile u32 *)base;
  u32 per_tick = rate / 100 ? rate / 100 : 1;
  u32 next = 0, value = 1;
  struct { long long sec, nsec; } tick = {0, 10 * 1000 * 1000};
  for (;;) {
    for (u32 i = 0; i < per_tick; i++) {
      /* The whole page, as a copy or a computation filling a buffer would: a page costs ~1000 stores. */
      for (u32 w = 0; w < 1024; w++) mem[next * 1024 + w] = value + w;
      if (++next == pages) {
        next = 0;
        value++;
      }
    }
    sys4(SYS_clock_nanosleep_time64, CLOCK_MONOTONIC, 0, (int)&tick, 0);
  }
}
