/*
 * hv-clone-setup SEEDHEX EPOCH|- MAC|-: what a guest restored from a
 * template (a clone) takes besides its hostname, in one small process
 * (hv_identity in /etc/hv.sh runs it):
 *   SEEDHEX  the clone's own random seed from the host (up to 64 bytes): added
 *            to the kernel's entropy pool, credited, and the RNG reseeded at
 *            once (RNDADDENTROPY, RNDRESEEDCRNG). Clones of one saved state
 *            start with one RNG state; a write to /dev/urandom mixes bytes in
 *            but does not reseed, so two clones would read the same "random"
 *            bytes until the kernel reseeds on its own (after up to a
 *            minute). Linux's vmgenid driver reseeds the same way when a VM
 *            is forked.
 *   EPOCH    the wall clock, seconds since 1970 (a restored clock lags by the
 *            time since the save); - leaves it.
 *   MAC      eth0's address, aa:bb:cc:dd:ee:ff (an interface that is up goes
 *            down for the change and up again); - or no eth0 leaves it.
 * Exit status 0, or 1 with a line on stderr for each part that failed (the
 * others are still done); 2 for bad arguments.
 */
#include "hv-sys.h"

#define RNDADDENTROPY 0x40085203 /* _IOW('R', 3, int[2]) */
#define RNDRESEEDCRNG 0x5207     /* _IO('R', 7) */
#define SIOCGIFFLAGS 0x8913
#define SIOCSIFFLAGS 0x8914
#define SIOCSIFHWADDR 0x8924
#define IFF_UP 1
#define ARPHRD_ETHER 1
#define AF_INET 2
#define SOCK_DGRAM 2
#define O_RDONLY 0
#define ENODEV 19
#define EBUSY 16
#define MAX_SEED 64

static int failed;

/* One line on stderr: "hv-clone-setup: " and the parts. */
static void say(const char *a, const char *b, const char *c) {
  const char *parts[] = {"hv-clone-setup: ", a, b, c, "\n"};
  for (int i = 0; i < 5; i++) {
    int n = 0;
    while (parts[i][n]) n++;
    sys3(SYS_write, 2, (int)parts[i], n);
  }
}

static void fail(const char *what, int err) {
  char num[4] = {(char)('0' + (-err / 100) % 10), (char)('0' + (-err / 10) % 10), (char)('0' + -err % 10), 0};
  say(what, " failed, errno ", num);
  failed = 1;
}

__attribute__((noreturn)) static void usage(const char *problem, const char *arg) {
  say(problem, arg, "\nusage: hv-clone-setup SEEDHEX EPOCH|- MAC|-");
  for (;;) sys3(SYS_exit, 2, 0, 0);
}

/* struct rand_pool_info: bits credited, bytes, the bytes. */
static struct {
  int entropy_count;
  int buf_size;
  u8 buf[MAX_SEED];
} pool;

static void reseed(const char *hex) {
  int n = unhex(hex, pool.buf, MAX_SEED);
  if (n <= 0) {
    usage("the seed is not hex: ", hex);
  }
  pool.entropy_count = 8 * n;
  pool.buf_size = n;
  int fd = sys3(SYS_open, (int)"/dev/urandom", O_RDONLY, 0);
  if (fd < 0) return fail("opening /dev/urandom", fd);
  int r = sys3(SYS_ioctl, fd, RNDADDENTROPY, (int)&pool);
  if (r < 0) fail("adding the seed (RNDADDENTROPY)", r);
  r = sys3(SYS_ioctl, fd, RNDRESEEDCRNG, 0);
  if (r < 0) fail("reseeding the RNG (RNDRESEEDCRNG)", r);
  sys3(SYS_close, fd, 0, 0);
}

static void set_clock(const char *s) {
  u32 epoch;
  if (parseu(s, &epoch, 0xffffffffu) < 0) {
    usage("the time is not seconds since 1970: ", s);
  }
  long long ts[2] = {(long long)epoch, 0}; /* struct __kernel_timespec */
  int r = sys3(SYS_clock_settime64, CLOCK_REALTIME, (int)ts, 0);
  if (r < 0) fail("setting the clock", r);
}

/* struct ifreq on i386: the name, then a union (here a sockaddr, or the flags). */
static struct {
  char name[16];
  unsigned short family;
  u8 data[14];
} ifr;

static void set_mac(const char *s) {
  u8 mac[6];
  char hex[13];
  for (int i = 0; i < 6; i++) {
    const char *p = s + 3 * i;
    if (!p[0] || !p[1] || (i < 5 ? p[2] != ':' : p[2] != 0)) {
      usage("the MAC is not aa:bb:cc:dd:ee:ff: ", s);
    }
    hex[2 * i] = p[0];
    hex[2 * i + 1] = p[1];
  }
  hex[12] = 0;
  if (unhex(hex, mac, 6) != 6) usage("the MAC is not aa:bb:cc:dd:ee:ff: ", s);
  int fd = sys3(SYS_socket, AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return fail("opening a socket for eth0", fd);
  memcpy(ifr.name, "eth0", 5);
  ifr.family = ARPHRD_ETHER;
  memcpy(ifr.data, mac, 6);
  int r = sys3(SYS_ioctl, fd, SIOCSIFHWADDR, (int)&ifr);
  if (r == -EBUSY) {
    /* Up, and the driver cannot change it live: down, change, up. */
    memset(ifr.data, 0, sizeof ifr.data);
    r = sys3(SYS_ioctl, fd, SIOCGIFFLAGS, (int)&ifr);
    unsigned short flags = (unsigned short)(ifr.family);
    if (r >= 0) {
      ifr.family = flags & (unsigned short)~IFF_UP;
      r = sys3(SYS_ioctl, fd, SIOCSIFFLAGS, (int)&ifr);
    }
    if (r >= 0) {
      ifr.family = ARPHRD_ETHER;
      memcpy(ifr.data, mac, 6);
      r = sys3(SYS_ioctl, fd, SIOCSIFHWADDR, (int)&ifr);
      ifr.family = flags;
      int up = sys3(SYS_ioctl, fd, SIOCSIFFLAGS, (int)&ifr);
      if (r >= 0) r = up;
    }
  }
  if (r < 0 && r != -ENODEV) fail("setting eth0's MAC", r);
  sys3(SYS_close, fd, 0, 0);
}

int cmain(int argc, char **argv) {
  if (argc != 4) usage("three arguments, not ", argc > 4 ? "more" : "fewer");
  reseed(argv[1]);
  if (!(argv[2][0] == '-' && !argv[2][1])) set_clock(argv[2]);
  if (!(argv[3][0] == '-' && !argv[3][1])) set_mac(argv[3]);
  return failed;
}
