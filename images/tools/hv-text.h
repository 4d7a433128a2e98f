/*
 * Text and time for the guest tools that print one result line (hv-io,
 * hv-tcp): a string to stdout, numbers put into a line buffer, a monotonic
 * clock in microseconds. Include after hv-sys.h (the build compiles the .c
 * files only).
 */
static __attribute__((unused)) void say(const char *s) {
  int n = 0;
  while (s[n]) n++;
  sys3(SYS_write, 1, (int)s, n);
}

static __attribute__((unused)) char *put(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

static __attribute__((unused)) char *putu(char *p, u32 v) {
  char t[12];
  int n = 0;
  do t[n++] = (char)('0' + v % 10); while (v /= 10);
  while (n) *p++ = t[--n];
  return p;
}

/* v/100 with two decimals. */
static __attribute__((unused)) char *put2(char *p, u32 hundredths) {
  p = putu(p, hundredths / 100);
  *p++ = '.';
  *p++ = (char)('0' + hundredths / 10 % 10);
  *p++ = (char)('0' + hundredths % 10);
  return p;
}

/* Microseconds (wrapping u32: differences under 71 minutes are right; no 64-bit division without libgcc). */
static __attribute__((unused)) u32 now_us(void) {
  struct { long long sec, nsec; } ts;
  sys3(SYS_clock_gettime64, CLOCK_MONOTONIC, (int)&ts, 0);
  return (u32)ts.sec * 1000000u + (u32)ts.nsec / 1000u;
}

static __attribute__((unused)) int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

