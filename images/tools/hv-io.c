/*
 * hv-io MODE DEVICE COUNT [KIB]: COUNT requests of KIB KiB (default 4) to
 * DEVICE (e.g. /dev/sda) with O_DIRECT, so each one reaches the disk and not
 * the page cache. MODE: randread, randwrite (block-aligned offsets spread over
 * the device's first 64 MiB or all of it if smaller), seqread, seqwrite (from
 * offset 0). Writes carry a pattern, so run it on a disk whose data you do not
 * need. Prints one line:
 *   HV-IO mode=randread ops=200 bytes=819200 ms=4012 iops=49.8 mbps=0.20 p50_us=312 p99_us=20510
 * (mbps: MB/s, 10^6 bytes). Exit status 2 for bad arguments, 1 for an I/O error.
 */
#include "hv-sys.h"
#include "hv-text.h"

#define O_RDWR 2
#define O_DIRECT 040000
#define SEEK_SET 0
#define SEEK_END 2
#define MAX_OPS 20000

static u8 buffer[1024 * 1024] __attribute__((aligned(4096)));
static u32 lat_us[MAX_OPS];

static void sort(u32 *a, u32 n) {
  /* Shell sort: a few thousand numbers, no libc. */
  for (u32 gap = n / 2; gap > 0; gap /= 2)
    for (u32 i = gap; i < n; i++) {
      u32 v = a[i], j = i;
      for (; j >= gap && a[j - gap] > v; j -= gap) a[j] = a[j - gap];
      a[j] = v;
    }
}

int cmain(int argc, char **argv) {
  u32 count = 0, kib = 4;
  if (argc < 4 || argc > 5 || parseu(argv[3], &count, MAX_OPS) < 0 || count == 0 || (argc == 5 && (parseu(argv[4], &kib, 1024) < 0 || kib == 0))) {
    say("usage: hv-io randread|randwrite|seqread|seqwrite DEVICE COUNT [KIB]  (COUNT 1-20000, KIB 1-1024, default 4)\n");
    return 2;
  }
  const char *mode = argv[1];
  int rnd = same(mode, "randread") || same(mode, "randwrite");
  int wr = same(mode, "randwrite") || same(mode, "seqwrite");
  if (!rnd && !wr && !same(mode, "seqread")) {
    say("hv-io: MODE is randread, randwrite, seqread or seqwrite\n");
    return 2;
  }
  int fd = sys3(SYS_open, (int)argv[2], O_RDWR | O_DIRECT, 0);
  if (fd < 0) {
    say("hv-io: cannot open the device\n");
    return 1;
  }
  u32 size = (u32)sys3(SYS_lseek, fd, 0, SEEK_END);
  u32 bytes = kib * 1024;
  u32 span = size < 64u * 1024 * 1024 ? size : 64u * 1024 * 1024;
  u32 slots = span / bytes;
  if ((unsigned long long)count * bytes > 0x7fffffffu) {
    say("hv-io: COUNT x KIB must stay under 2 GiB\n");
    return 2;
  }
  if ((int)size <= 0 || slots == 0 || (!rnd && count * bytes > size)) {
    say("hv-io: the device is too small for that\n");
    return 1;
  }
  for (u32 i = 0; i < bytes; i++) buffer[i] = (u8)(i * 7 + 1);
  u32 seed = 2463534242u;
  u32 t0 = now_us();
  for (u32 i = 0; i < count; i++) {
    u32 slot = i;
    if (rnd) {
      seed ^= seed << 13;
      seed ^= seed >> 17;
      seed ^= seed << 5;
      slot = seed % slots;
    }
    u32 a = now_us();
    if (sys3(SYS_lseek, fd, (int)(slot * bytes), SEEK_SET) < 0 || sys3(wr ? SYS_write : SYS_read, fd, (int)buffer, (int)bytes) != (int)bytes) {
      say("hv-io: an I/O request failed\n");
      return 1;
    }
    lat_us[i] = now_us() - a;
  }
  u32 ms = (now_us() - t0) / 1000;
  if (ms == 0) ms = 1;
  sort(lat_us, count);
  u32 total = count * bytes;
  char line[256], *p = line;
  p = put(p, "HV-IO mode=");
  p = put(p, mode);
  p = put(p, " ops=");
  p = putu(p, count);
  p = put(p, " bytes=");
  p = putu(p, total);
  p = put(p, " ms=");
  p = putu(p, ms);
  p = put(p, " iops=");
  p = put2(p, count * 100000u / ms);
  p = put(p, " mbps=");
  p = put2(p, total / 10u / ms); /* bytes/ms = kB/s; /10 = hundredths of MB/s */
  p = put(p, " p50_us=");
  p = putu(p, lat_us[count / 2]);
  p = put(p, " p99_us=");
  p = putu(p, lat_us[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1]);
  p = put(p, "\n");
  *p = 0;
  say(line);
  sys3(SYS_close, fd, 0, 0);
  return 0;
}
