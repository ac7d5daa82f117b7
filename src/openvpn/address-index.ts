// The parser's index of sessions by raw Real Address: the first session listed at each address
// (OpenVPN lists an instance once; routing rows find their client through it). Nearly every client
// is at an `a.b.c.d:port` that ipv4PortKey turns into a number: those live in an open-addressing
// table of typed arrays, so a 100,000-row file costs no object, boxed number or string hash per
// row. Any other address text (IPv6, no port, 2.7 prefixes) goes in a Map.

const EMPTY = -1;

export class AddressIndex {
  /** Power-of-two capacity; keys[i] === EMPTY marks a free slot. */
  private keys = new Float64Array(1024).fill(EMPTY);
  private values = new Int32Array(1024);
  /** 32 - log2(capacity): a multiplicative hash's best bits are its top ones. */
  private shift = 22;
  private count = 0;
  private readonly byText = new Map<string, number>();

  /** The session stored for an address (an ipv4PortKey number, or the address text), or -1. */
  get(address: number | string): number {
    if (typeof address === 'string') return this.byText.get(address) ?? -1;
    const slot = this.find(address);
    return this.keys[slot] === EMPTY ? -1 : this.values[slot]!;
  }

  /** Stores `session` for an address that has none yet; returns the session stored before, or -1. */
  add(address: number | string, session: number): number {
    if (typeof address === 'string') {
      const before = this.byText.get(address);
      if (before !== undefined) return before;
      this.byText.set(address, session);
      return -1;
    }
    const slot = this.find(address);
    if (this.keys[slot] !== EMPTY) return this.values[slot]!;
    this.keys[slot] = address;
    this.values[slot] = session;
    if (++this.count * 2 > this.keys.length) this.grow();
    return -1;
  }

  /** The slot holding `key`, or the free slot where it would go (linear probing). */
  private find(key: number): number {
    const mask = this.keys.length - 1;
    // Keys are below 2^48: mix the low and high 32 bits.
    const low = key % 4294967296;
    let slot = Math.imul((low | 0) ^ Math.imul((key - low) / 4294967296, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
    while (this.keys[slot] !== EMPTY && this.keys[slot] !== key) slot = (slot + 1) & mask;
    return slot;
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Float64Array(keys.length * 2).fill(EMPTY);
    this.values = new Int32Array(keys.length * 2);
    this.shift--;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === EMPTY) continue;
      const slot = this.find(keys[i]!);
      this.keys[slot] = keys[i]!;
      this.values[slot] = values[i]!;
    }
  }
}
