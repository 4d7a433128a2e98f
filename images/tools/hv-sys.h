/*
 * What the freestanding guest tools (the C files in tools/) share: i386 Linux system
 * calls through int $0x80, the few libc functions gcc may call, hex and
 * number parsing, and the entry point. No libc: a tool is a few KiB and
 * needs nothing in the initramfs but itself (an exec costs less than one of
 * busybox, which matters in an emulated CPU).
 */
typedef unsigned int u32;
typedef unsigned char u8;

/* --- system calls (i386: number in eax, arguments in ebx, ecx, edx) --- */
static int sys3(int n, int a, int b, int c) {
  int r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}
#define SYS_exit 1
#define SYS_read 3
#define SYS_write 4
#define SYS_open 5
#define SYS_close 6
#define SYS_lseek 19
#define SYS_ioctl 54
#define SYS_socket 359
#define SYS_clock_gettime64 403 /* 265 needs COMPAT_32BIT_TIME, which the small kernel lacks */
#define SYS_clock_settime64 404
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1

/* gcc may emit calls to these even when freestanding. */
void *memset(void *d, int c, unsigned long n) {
  u8 *p = d;
  while (n--) *p++ = (u8)c;
  return d;
}
void *memcpy(void *d, const void *s, unsigned long n) {
  u8 *p = d;
  const u8 *q = s;
  while (n--) *p++ = *q++;
  return d;
}

static __attribute__((unused)) int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
/* Decode hex into dst (at most max bytes); returns the length or -1. */
static __attribute__((unused)) int unhex(const char *s, u8 *dst, int max) {
  int n = 0;
  while (s[0] && s[1]) {
    int hi = hexval(s[0]), lo = hexval(s[1]);
    if (hi < 0 || lo < 0 || n == max) return -1;
    dst[n++] = (u8)(hi << 4 | lo);
    s += 2;
  }
  return s[0] ? -1 : n;
}
/* A decimal number up to max; 0 or -1 (not a number, or above max). */
static __attribute__((unused)) int parseu(const char *s, u32 *v, u32 max) {
  u32 r = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || r > (max - (u32)(*s - '0')) / 10) return -1;
    r = r * 10 + (u32)(*s - '0');
  }
  *v = r;
  return 0;
}

/* Entry: the kernel leaves argc, argv[] on the stack; align it for cmain. */
int cmain(int argc, char **argv);
__asm__(
    ".globl _start\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  mov (%esp), %eax\n"
    "  lea 4(%esp), %edx\n"
    "  and $-16, %esp\n"
    "  sub $8, %esp\n"
    "  push %edx\n"
    "  push %eax\n"
    "  call cmain\n"
    "  mov %eax, %ebx\n"
    "  mov $1, %eax\n"
    "  int $0x80\n");
