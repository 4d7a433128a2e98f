// Ethernet frames as the virtual switch sees them: addresses, 802.1Q tags
// and sizes. MAC addresses are 48-bit numbers (exact in a double) so that the
// switch's table lookups stay cheap; macText/parseMac convert for people.

/** Frames shorter than a header are malformed (the NIC never sends them). */
export const ETH_HEADER = 14;
/** Ethernet's payload (MTU), and the largest frame without FCS: 1500 bytes of payload, plus a 4-byte 802.1Q tag. */
export const ETH_MTU = 1500;
export const ETH_MAX_UNTAGGED = ETH_HEADER + ETH_MTU;
export const ETH_MAX_TAGGED = ETH_MAX_UNTAGGED + 4;
/** The MTUs a network may have: IPv6's minimum, up to jumbo frames of 9000 bytes (vSphere's and most switches' largest). */
export const MIN_MTU = 1280;
export const JUMBO_MTU = 9000;

/** True for an MTU a network or port may have (a whole number of bytes, MIN_MTU-JUMBO_MTU). */
export function isValidMtu(mtu: number): boolean {
  return Number.isInteger(mtu) && mtu >= MIN_MTU && mtu <= JUMBO_MTU;
}
export const ETHERTYPE_VLAN = 0x8100;
/** IPv4's EtherType (also ARP's protocol type for IPv4 addresses). */
export const ETHERTYPE_IPV4 = 0x0800;
export const BROADCAST = 0xffff_ffff_ffff;

export type Mac = number;

/** The 48-bit address at `offset` (0: destination, 6: source). */
export function readMac(frame: Uint8Array, offset: number): Mac {
  return (
    frame[offset]! * 2 ** 40 +
    frame[offset + 1]! * 2 ** 32 +
    frame[offset + 2]! * 2 ** 24 +
    ((frame[offset + 3]! << 16) | (frame[offset + 4]! << 8) | frame[offset + 5]!)
  );
}

/** Group (multicast or broadcast) addresses have the low bit of their first byte set. */
export function isGroup(mac: Mac): boolean {
  return Math.floor(mac / 2 ** 40) % 2 === 1;
}

export function macText(mac: Mac): string {
  return mac.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
}

/** "02:00:00:00:00:01" (or with dashes) to a Mac; null when it is not one. */
export function parseMac(text: string): Mac | null {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text.trim());
  return m ? parseInt(m.slice(1).join(''), 16) : null;
}

/** The 802.1Q tag's VLAN id, or null for an untagged frame (the caller checked the length). */
export function tagOf(frame: Uint8Array): number | null {
  if (((frame[12]! << 8) | frame[13]!) !== ETHERTYPE_VLAN) return null;
  return ((frame[14]! << 8) | frame[15]!) & 0x0fff;
}

/** A copy of an untagged frame with an 802.1Q tag for `vlan` after the addresses (priority 0). */
export function pushTag(frame: Uint8Array, vlan: number): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12), 0);
  out[12] = ETHERTYPE_VLAN >> 8;
  out[13] = ETHERTYPE_VLAN & 0xff;
  out[14] = (vlan >> 8) & 0x0f;
  out[15] = vlan & 0xff;
  out.set(frame.subarray(12), 16);
  return out;
}

/** A copy of a tagged frame without its tag. */
export function popTag(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length - 4);
  out.set(frame.subarray(0, 12), 0);
  out.set(frame.subarray(16), 12);
  return out;
}
