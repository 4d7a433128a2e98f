import { describe, expect, it } from 'vitest';
import { benchCommand, memscanCommand, memtouchCommand, memtouchHeld, parseBench, parseHvIo, parseMemscan } from './guest-tools.ts';

describe('hv-memscan', () => {
  it('builds the command from key and masked patterns', () => {
    expect(memscanCommand({ keyHex: 'aabb', maskedHex: ['01', '0203'] }, 80)).toBe('hv-memscan -m 80 aabb 01 0203');
  });

  it('parses hits, addresses, bytes and time', () => {
    const out = [
      'HV-MEMSCAN pattern=0 hits=0 addrs=-',
      'HV-MEMSCAN pattern=1 hits=74239 addrs=0x0026f06e,0x002720f0',
      'HV-MEMSCAN done bytes=67104768 skipped=4096 end=0x04000000 ms=9400',
    ].join('\n');
    expect(parseMemscan(out, 2)).toEqual({
      patterns: [
        { hits: 0, addresses: [] },
        { hits: 74239, addresses: [0x26f06e, 0x2720f0] },
      ],
      bytesScanned: 67104768,
      bytesSkipped: 4096,
      ramEnd: 64 << 20,
      ms: 9400,
    });
  });

  it('says what went wrong when the tool failed', () => {
    expect(() => parseMemscan('hv-memscan: cannot open /dev/mem (kernel without CONFIG_DEVMEM?)\nusage: ...', 1)).toThrow(
      'hv-memscan did not finish: usage: ...',
    );
    expect(() => parseMemscan('HV-MEMSCAN done bytes=1 skipped=0 end=0x00001000 ms=1', 1)).toThrow('hv-memscan printed no line for pattern 0');
  });
});

describe('hv-memtouch', () => {
  it('quotes the marker and logs to a file', () => {
    expect(memtouchCommand(1, "a'b c", '/run/x.log')).toBe(`hv-memtouch 1 'a'\\''b c' > /run/x.log 2>&1 &`);
  });

  it('knows when the memory is held, and throws on the tool\'s error', () => {
    expect(memtouchHeld('', 'a')).toBe(false);
    expect(memtouchHeld('HV-MEMTOUCH held mib=1 pid=12 bytes=1048576\n', 'a')).toBe(true);
    expect(() => memtouchHeld('hv-memtouch: could not fill 9 MiB\n', 'iso-a')).toThrow('iso-a: hv-memtouch: could not fill 9 MiB');
  });
});

describe('hv-bench', () => {
  it('builds and parses', () => {
    expect(benchCommand(8, 200)).toBe('hv-bench 8 200');
    expect(parseBench('HV-BENCH rounds=4 iterations=800 ms=8120 per_s=98\n')).toEqual({ iterations: 800, ms: 8120, perS: 98 });
    expect(() => parseBench('sh: hv-bench: not found')).toThrow('hv-bench printed no result: sh: hv-bench: not found');
  });
});

describe('parseHvIo', () => {
  it('reads the HV-IO line and refuses output without one', () => {
    const line = 'HV-IO mode=randread ops=200 bytes=819200 ms=4012 iops=49.85 mbps=0.20 p50_us=312 p99_us=20510\n';
    expect(parseHvIo(`junk\n${line}`)).toEqual({ ops: 200, bytes: 819200, ms: 4012, iops: 49.85, mbps: 0.2, p50_us: 312, p99_us: 20510 });
    expect(() => parseHvIo('hv-io: cannot open the device\n')).toThrow(/hv-io printed no HV-IO line: hv-io: cannot open the device/);
  });
});
