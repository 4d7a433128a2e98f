/*
 * hv-memscan: search this guest's own physical RAM (/dev/mem) for byte
 * patterns that are given masked, so the plain pattern never exists in the
 * guest's memory (not on the command line, not in a tty buffer, not here).
 *
 *   hv-memscan [-m MIB] KEYHEX MASKEDHEX [MASKEDHEX...]
 *
 * Pattern i is MASKEDHEX_i XOR KEYHEX (byte by byte; the key is at least as
 * long as every pattern). A position p matches when mem[p+k] ^ key[k] ==
 * masked[k] for every k: the comparison runs on masked bytes only.
 * Reads /dev/mem in 64 KiB chunks, falls back to single 4 KiB pages where a
 * chunk fails and skips pages that cannot be read. Stops at MIB MiB, at end
 * of file, or after 4 MiB of unreadable pages in a row (past the end of RAM).
 *
 * Output, one line per pattern and a summary:
 *   HV-MEMSCAN pattern=0 hits=2 addrs=0x01234000,0x0133a008
 *   HV-MEMSCAN done bytes=67104768 skipped=4096 end=0x04000000 ms=1830
 * skipped: unreadable pages between readable ones; end: where the readable
 * RAM ends (the top of a v86 guest's RAM is reserved in its e820 map).
 *
 * Built freestanding (no libc): i386 Linux system calls through int $0x80.
 *   gcc -m32 -static -nostdlib -ffreestanding -Os -o hv-memscan hv-memscan.c
 */

#define MAX_PATTERNS 8
#define MAX_LEN 64
#define MAX_ADDRS 8
#define PAGE 4096
#define CHUNK (64 * 1024)
#define GIVE_UP_PAGES 1024 /* 4 MiB of unreadable pages in a row: past the end of RAM */

#include "hv-sys.h"

/* --- output --- */
static char out[1024];
static int outLen;
static void flush(void) {
  if (outLen) sys3(SYS_write, 1, (int)out, outLen);
  outLen = 0;
}
static void put(const char *s) {
  while (*s) {
    if (outLen == sizeof out) flush();
    out[outLen++] = *s++;
  }
}
static void putu(u32 v) {
  char b[12];
  int i = sizeof b - 1;
  b[i] = 0;
  do b[--i] = (char)('0' + v % 10); while ((v /= 10) && i > 0);
  put(b + i);
}
static void puthex(u32 v) {
  char b[11];
  b[0] = '0';
  b[1] = 'x';
  for (int i = 0; i < 8; i++) b[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
  b[10] = 0;
  put(b);
}
static void die(const char *msg) {
  flush();
  put("hv-memscan: ");
  put(msg);
  put("\nusage: hv-memscan [-m MIB] KEYHEX MASKEDHEX [MASKEDHEX...]\n");
  sys3(SYS_write, 2, (int)out, outLen);
  sys3(SYS_exit, 2, 0, 0);
}

static u32 nowMs(void) {
  unsigned long long ts[2]; /* struct __kernel_timespec: 64-bit seconds, nanoseconds */
  if (sys3(SYS_clock_gettime64, CLOCK_MONOTONIC, (int)ts, 0) < 0) return 0;
  return (u32)ts[0] * 1000u + (u32)ts[1] / 1000000u;
}

/* --- the search --- */
static u8 key[MAX_LEN];
static int keyLen;
static u8 masked[MAX_PATTERNS][MAX_LEN];
static int patLen[MAX_PATTERNS];
static int patterns;
static u32 hits[MAX_PATTERNS];
static u32 addrs[MAX_PATTERNS][MAX_ADDRS];

/* carry holds the last MAX_LEN-1 bytes of the previous readable run, so a
   match across a chunk edge is seen; buf = carry + chunk. */
static u8 buf[MAX_LEN + CHUNK];

/* Does masked pattern p occur at buf + i? Compares masked bytes only. */
static int matchAt(int p, int i) {
  const u8 *m = masked[p];
  int k = 1;
  while (k < patLen[p] && (u8)(buf[i + k] ^ key[k]) == m[k]) k++;
  return k == patLen[p];
}

static void hit(int p, u32 address) {
  if (hits[p] < MAX_ADDRS) addrs[p][hits[p]] = address;
  hits[p]++;
}

/* Scan buf[0, n) whose byte 0 is at physical address base; only matches that
   start before `limit` (the part not carried over to the next round) count.
   Four bytes at a time: x has a zero byte where a byte equals the pattern's
   first byte (a single byte of it, kept as key[0] ^ masked[0] repeated). */
static void scan(u32 base, int n, int limit) {
  for (int p = 0; p < patterns; p++) {
    int len = patLen[p];
    u32 first = (u32)(key[0] ^ masked[p][0]) * 0x01010101u;
    int last = n - len;
    if (last >= limit) last = limit - 1;
    int i = 0;
    for (; i + 3 <= last; i += 4) {
      u32 x = *(const u32 *)(buf + i) ^ first;
      if (!((x - 0x01010101u) & ~x & 0x80808080u)) continue;
      for (int j = 0; j < 4; j++)
        if (!((x >> (8 * j)) & 0xff) && matchAt(p, i + j)) hit(p, base + (u32)(i + j));
    }
    for (; i <= last; i++)
      if ((u8)(buf[i] ^ key[0]) == masked[p][0] && matchAt(p, i)) hit(p, base + (u32)i);
  }
}

int cmain(int argc, char **argv) {
  u32 limitMiB = 0;
  int a = 1;
  if (a + 1 < argc && argv[a][0] == '-' && argv[a][1] == 'm' && !argv[a][2]) {
    if (parseu(argv[a + 1], &limitMiB, 100000) < 0 || limitMiB == 0 || limitMiB > 2047) die("-m takes a size in MiB, 1 to 2047");
    a += 2;
  }
  if (argc - a < 2) die("a key and at least one masked pattern are needed");
  keyLen = unhex(argv[a++], key, MAX_LEN);
  if (keyLen <= 0) die("KEYHEX must be 2 to 128 hex digits");
  for (; a < argc; a++) {
    if (patterns == MAX_PATTERNS) die("at most 8 patterns");
    int n = unhex(argv[a], masked[patterns], MAX_LEN);
    if (n <= 0) die("MASKEDHEX must be 2 to 128 hex digits");
    if (n > keyLen) die("the key is shorter than a pattern");
    patLen[patterns++] = n;
  }

  int fd = sys3(SYS_open, (int)"/dev/mem", 0 /* O_RDONLY */, 0);
  if (fd < 0) die("cannot open /dev/mem (kernel without CONFIG_DEVMEM?)");

  u32 t0 = nowMs();
  u32 end = limitMiB ? limitMiB << 20 : 0xffffffffu;
  /* badRun: unreadable pages since the last readable one. They count as
     skipped once a readable page follows (a hole); a run at the end is where
     the RAM the kernel maps ends (ramEnd). */
  u32 pos = 0, scanned = 0, skipped = 0, badRun = 0, ramEnd = 0;
  int carry = 0; /* bytes at the front of buf from the previous readable run */
  while (pos < end && badRun < GIVE_UP_PAGES) {
    u32 want = end - pos < CHUNK ? end - pos : CHUNK;
    sys3(SYS_lseek, fd, (int)pos, 0 /* SEEK_SET */);
    int got = sys3(SYS_read, fd, (int)(buf + carry), (int)want);
    if (got == 0) break; /* end of /dev/mem */
    if (got < 0) {
      /* Part of this chunk is unreadable: go page by page. */
      for (u32 off = 0; off < want; off += PAGE) {
        sys3(SYS_lseek, fd, (int)(pos + off), 0);
        int g = sys3(SYS_read, fd, (int)(buf + carry), PAGE);
        if (g <= 0) {
          badRun++;
          carry = 0;
          continue;
        }
        skipped += badRun * PAGE;
        badRun = 0;
        scan(pos + off - (u32)carry, carry + g, carry + g);
        scanned += (u32)g;
        ramEnd = pos + off + (u32)g;
        carry = 0; /* page-wise runs are rare: edges between them are not joined */
      }
      pos += want;
      continue;
    }
    skipped += badRun * PAGE;
    badRun = 0;
    int n = carry + got;
    int keep = n < MAX_LEN - 1 ? n : MAX_LEN - 1;
    /* Matches starting in the kept tail are found next round, with their bytes. */
    scan(pos - (u32)carry, n, n - keep);
    scanned += (u32)got;
    memcpy(buf, buf + n - keep, (unsigned long)keep);
    carry = keep;
    pos += (u32)got;
    ramEnd = pos;
  }
  /* The final tail: matches that start in it and fit. */
  if (carry) scan(pos - (u32)carry, carry, carry);

  for (int p = 0; p < patterns; p++) {
    put("HV-MEMSCAN pattern=");
    putu((u32)p);
    put(" hits=");
    putu(hits[p]);
    put(" addrs=");
    u32 shown = hits[p] < MAX_ADDRS ? hits[p] : MAX_ADDRS;
    if (!shown) put("-");
    for (u32 i = 0; i < shown; i++) {
      if (i) put(",");
      puthex(addrs[p][i]);
    }
    put("\n");
  }
  put("HV-MEMSCAN done bytes=");
  putu(scanned);
  put(" skipped=");
  putu(skipped);
  put(" end=");
  puthex(ramEnd);
  put(" ms=");
  putu(nowMs() - t0);
  put("\n");
  flush();
  return 0;
}
