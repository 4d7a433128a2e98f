/*
 * hv-sniff [-c COUNT] [IFACE]: the frames an interface sees, one line each,
 * the way `tcpdump -n -e` starts its lines; a guest's own small packet
 * sniffer (Debian's tcpdump needs libpcap and libc in the initramfs).
 *   in  02:00:00:00:00:01 > 02:00:00:00:00:02, IPv4 10.0.10.100 > 10.0.10.101: ICMP echo request, length 98
 * "in" frames came to the interface (for it, broadcast, or anybody's: the
 * interface is put in promiscuous mode, so a switch's mirror port shows
 * other guests' frames), "out" frames it sent. IFACE defaults to eth0;
 * COUNT frames and it exits (default: until killed). An 802.1Q tag shows as
 * "vlan N,". Exit status 0, 1 when the socket cannot be opened (a line on
 * stderr says why), 2 for bad arguments.
 */
#include "hv-sys.h"

#define SYS_bind 361
#define SYS_setsockopt 366
#define SYS_recvmsg 372
#define AF_PACKET 17
#define SOCK_RAW 3
#define ETH_P_ALL_BE 0x0300 /* htons(ETH_P_ALL) */
#define SIOCGIFINDEX 0x8933
#define SOL_PACKET 263
#define PACKET_ADD_MEMBERSHIP 1
#define PACKET_MR_PROMISC 1
#define PACKET_OUTGOING 4

static int sys5(int n, int a, int b, int c, int d, int e) {
  int r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e) : "memory");
  return r;
}

static char line[256];
static int len;

static void put(const char *s) {
  while (*s && len < (int)sizeof line - 1) line[len++] = *s++;
}
static void putu(u32 v) {
  char b[11];
  int i = 10;
  b[i] = 0;
  do b[--i] = (char)('0' + v % 10);
  while ((v /= 10) && i > 0);
  put(b + i);
}
static void puthex(u32 v, int digits) {
  char b[9];
  for (int i = digits - 1; i >= 0; i--, v >>= 4) b[i] = "0123456789abcdef"[v & 15];
  b[digits] = 0;
  put(b);
}
static void putmac(const u8 *m) {
  for (int i = 0; i < 6; i++) {
    if (i) put(":");
    puthex(m[i], 2);
  }
}
static void putip(const u8 *a) {
  for (int i = 0; i < 4; i++) {
    if (i) put(".");
    putu(a[i]);
  }
}
static u32 be16(const u8 *p) { return (u32)p[0] << 8 | p[1]; }

static void err(const char *what, int e) {
  len = 0;
  put("hv-sniff: ");
  put(what);
  put(" failed, errno ");
  putu((u32)-e);
  put("\n");
  sys3(SYS_write, 2, (int)line, len);
}

/* The IPv4 part: addresses, then ICMP type, UDP/TCP ports (and TCP flags). */
static void ipv4(const u8 *p, int n) {
  if (n < 20 || (p[0] >> 4) != 4) {
    put(" [truncated IPv4]");
    return;
  }
  int hl = (p[0] & 15) * 4;
  int proto = p[9];
  put(" ");
  putip(p + 12);
  put(" > ");
  putip(p + 16);
  put(":");
  const u8 *q = p + hl;
  int m = n - hl;
  if (proto == 1 && m >= 1) {
    put(q[0] == 8 ? " ICMP echo request" : q[0] == 0 ? " ICMP echo reply" : " ICMP type ");
    if (q[0] != 8 && q[0] != 0) putu(q[0]);
  } else if ((proto == 6 || proto == 17) && m >= 4) {
    put(proto == 6 ? " TCP " : " UDP ");
    putu(be16(q));
    put(" > ");
    putu(be16(q + 2));
    if (proto == 6 && m >= 14) {
      static const char *const flags[] = {"F", "S", "R", "P", ".", "U"};
      put(" [");
      for (int i = 0; i < 6; i++)
        if (q[13] & (1 << i)) put(flags[i]);
      put("]");
    }
  } else {
    put(" proto ");
    putu((u32)proto);
  }
}

static void show(const u8 *f, int n, int outgoing) {
  len = 0;
  put(outgoing ? "out " : "in  ");
  if (n < 14) {
    put("[frame of ");
    putu((u32)n);
    put(" bytes]\n");
    sys3(SYS_write, 1, (int)line, len);
    return;
  }
  putmac(f + 6);
  put(" > ");
  putmac(f);
  put(",");
  u32 type = be16(f + 12);
  int off = 14;
  if (type == 0x8100 && n >= 18) {
    put(" vlan ");
    putu(be16(f + 14) & 0xfff);
    put(",");
    type = be16(f + 16);
    off = 18;
  }
  if (type == 0x0800) {
    put(" IPv4");
    ipv4(f + off, n - off);
  } else if (type == 0x0806) {
    put(" ARP");
    if (n - off >= 28) {
      int request = be16(f + off + 6) == 1;
      put(request ? " who-has " : " reply ");
      putip(f + off + (request ? 24 : 14)); /* the target's address, or the sender's */
    }
  } else {
    put(" ethertype 0x");
    puthex(type, 4);
  }
  put(", length ");
  putu((u32)n);
  put("\n");
  sys3(SYS_write, 1, (int)line, len);
}

int cmain(int argc, char **argv) {
  const char *ifname = "eth0";
  u32 count = 0;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1] == 'c' && !argv[i][2] && i + 1 < argc) {
      if (parseu(argv[++i], &count, 1000000000) < 0 || count == 0) {
        static const char bad[] = "hv-sniff: -c needs a whole number of frames above 0\n";
        sys3(SYS_write, 2, (int)bad, sizeof bad - 1);
        return 2;
      }
    } else if (argv[i][0] != '-') {
      ifname = argv[i];
    } else {
      static const char usage[] = "usage: hv-sniff [-c COUNT] [IFACE]\n";
      sys3(SYS_write, 2, (int)usage, sizeof usage - 1);
      return 2;
    }
  }
  int fd = sys3(SYS_socket, AF_PACKET, SOCK_RAW, ETH_P_ALL_BE);
  if (fd < 0) {
    err("socket(AF_PACKET)", fd);
    return 1;
  }
  struct { /* struct ifreq: a name, then a 16-byte union (here the index) */
    char name[16];
    int index;
    char pad[12];
  } ifr;
  memset(&ifr, 0, sizeof ifr);
  for (int i = 0; i < 15 && ifname[i]; i++) ifr.name[i] = ifname[i];
  int r = sys3(SYS_ioctl, fd, SIOCGIFINDEX, (int)&ifr);
  if (r < 0) {
    err("finding the interface", r);
    return 1;
  }
  /* struct sockaddr_ll: family, protocol, ifindex, hatype, pkttype, halen, addr[8]. */
  struct {
    unsigned short family, protocol;
    int ifindex;
    unsigned short hatype;
    u8 pkttype, halen, addr[8];
  } sll;
  memset(&sll, 0, sizeof sll);
  sll.family = AF_PACKET;
  sll.protocol = ETH_P_ALL_BE;
  sll.ifindex = ifr.index;
  r = sys3(SYS_bind, fd, (int)&sll, sizeof sll);
  if (r < 0) {
    err("bind", r);
    return 1;
  }
  struct {
    int ifindex;
    unsigned short type, alen;
    u8 address[8];
  } mreq;
  memset(&mreq, 0, sizeof mreq);
  mreq.ifindex = ifr.index;
  mreq.type = PACKET_MR_PROMISC;
  r = sys5(SYS_setsockopt, fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, (int)&mreq, sizeof mreq);
  if (r < 0) {
    err("promiscuous mode", r);
    return 1;
  }
  static u8 frame[65536 + 64];
  struct {
    void *base;
    u32 len;
  } iov = {frame, sizeof frame};
  struct {
    void *name;
    u32 namelen;
    void *iov;
    u32 iovlen;
    void *control;
    u32 controllen;
    int flags;
  } msg;
  for (u32 seen = 0; count == 0 || seen < count; seen++) {
    memset(&msg, 0, sizeof msg);
    msg.name = &sll;
    msg.namelen = sizeof sll;
    msg.iov = &iov;
    msg.iovlen = 1;
    int n = sys3(SYS_recvmsg, fd, (int)&msg, 0);
    if (n < 0) {
      err("recvmsg", n);
      return 1;
    }
    show(frame, n, sll.pkttype == PACKET_OUTGOING);
  }
  return 0;
}
