// The parser's index of sessions by real address: every address stored once, found again, across
// the table's growth, for numbers (ipv4PortKey) and text alike.
import { describe, expect, it } from 'vitest';
import { AddressIndex } from '../src/openvpn/address-index.ts';
import { ipv4PortKey, isVirtualAddressColumn } from '../src/openvpn/addresses.ts';

describe('AddressIndex', () => {
  it('keeps the first session per address, through growth, for keys and text', () => {
    const index = new AddressIndex();
    const addresses = Array.from({ length: 50_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${1024 + (i % 50_000)}`);
    addresses.forEach((a, i) => expect(index.add(ipv4PortKey(a, 0, a.length), i)).toBe(-1));
    addresses.forEach((a, i) => expect(index.get(ipv4PortKey(a, 0, a.length))).toBe(i));
    expect(index.add(ipv4PortKey(addresses[7]!, 0, addresses[7]!.length), 99)).toBe(7); // already there: the first stays
    expect(index.get(ipv4PortKey('10.255.255.255:1', 0, 16))).toBe(-1);
    expect(index.add('2001:db8::1', 5)).toBe(-1);
    expect(index.add('2001:db8::1', 6)).toBe(5);
    expect([index.get('2001:db8::1'), index.get('2001:db8::2')]).toEqual([5, -1]);
  });

  it('ipv4PortKey: only a.b.c.d:port as OpenVPN writes it', () => {
    expect(ipv4PortKey('203.0.113.5:52137', 0, 17)).toBe(((203 * 256 + 0) * 256 + 113) * 256 * 65536 + 5 * 65536 + 52137);
    expect(ipv4PortKey('x203.0.113.5:1', 1, 14)).toBe(ipv4PortKey('203.0.113.5:1', 0, 13));
    for (const text of ['01.2.3.4:5', '1.2.3.4:05', '1.2.3.256:5', '1.2.3.4:65536', '1.2.3:4', '1.2.3.4', '1.2.3.4:', 'udp4:1.2.3.4:5', '1..3.4:5', '1.2.3.4:5:6', '::ffff:1.2.3.4']) {
      expect(ipv4PortKey(text, 0, text.length), text).toBe(-1);
    }
    expect(ipv4PortKey('0.0.0.0:0', 0, 9)).toBe(0);
  });

  it('a virtual IPv4 address has four groups of at most 255: 198.18.995.27 is not one', () => {
    for (const text of ['198.18.0.2', '0.0.0.0', '255.255.255.255', '']) expect(isVirtualAddressColumn(text), text).toBe(true);
    for (const text of ['198.18.995.27', '198.18.256.1', '256.0.0.1', '1.2.3.1000', '1.2.3', '1..2.3']) expect(isVirtualAddressColumn(text), text).toBe(false);
  });
});
