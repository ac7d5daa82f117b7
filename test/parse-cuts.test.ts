// A status text cut at any byte, as a reader sees it while OpenVPN rewrites the file in place (or
// when a transfer stops): after its first header row it is an incomplete status file (never an
// error, nothing invented, nothing a later row would contradict); before that row it cannot be told
// from a look-alike and is refused. Every byte of every fixture that parses, in every version,
// including the TAP, iroute and IPv6-route ones.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStatus, StatusParseError } from '../src/openvpn/parse-status.ts';
import type { VpnSession } from '../src/domain.ts';

const fixtureDir = path.join(import.meta.dirname, 'fixtures');
const all = ['', 'excerpts/', 'handmade/'].flatMap((dir) => fs.readdirSync(path.join(fixtureDir, dir)).filter((f) => /\.(status|txt)$/.test(f)).map((f) => dir + f));
const parseable = all.filter((f) => {
  try {
    parseStatus(fs.readFileSync(path.join(fixtureDir, f), 'utf8'));
    return true;
  } catch {
    return false;
  }
}).sort();

/** Byte offsets in the file: just after the line that ends the first header row, and just after END. */
function landmarks(bytes: Buffer): { afterHeader: number; afterEnd: number } {
  const text = bytes.toString('latin1'); // one char per byte: indexes are byte offsets
  const header = /^(Common Name,|HEADER[,\t]CLIENT_LIST[,\t])/m.exec(text)!;
  const end = /^END\r?$/m.exec(text);
  return { afterHeader: text.indexOf('\n', header.index) + 1, afterEnd: end ? end.index + 3 : Infinity };
}

/** What a cut may change: a virtual address whose routing row is not there yet. */
const identity = (s: VpnSession) => ({ ...s, virtualAddress: null, virtualIpv6: null });

describe('a text cut at any byte', () => {
  it('covers every version and the TAP, iroute and IPv6-route fixtures', () => {
    for (const prefix of ['v1_', 'v2_', 'v3_', 'mgmt_', 'excerpts/', 'handmade/']) expect(parseable.some((f) => f.startsWith(prefix))).toBe(true);
    for (const trait of ['tap', 'iroute', 'ipv6']) expect(parseable.filter((f) => f.toLowerCase().includes(trait)).length).toBeGreaterThan(1);
  });

  it.each(parseable)('%s', (file) => {
    const bytes = fs.readFileSync(path.join(fixtureDir, file));
    const full = parseStatus(bytes.toString('utf8'));
    const { afterHeader, afterEnd } = landmarks(bytes);
    expect(afterHeader).toBeGreaterThan(0);
    for (let at = 0; at <= bytes.length; at++) {
      const cut = bytes.subarray(0, at).toString('utf8');
      if (at < afterHeader) {
        // Before its first header row: not recognisable, refused with what is missing.
        let refused: StatusParseError | undefined;
        try {
          parseStatus(cut);
        } catch (err) {
          refused = err as StatusParseError;
        }
        expect(refused, `cut at byte ${at}`).toBeInstanceOf(StatusParseError);
        expect(['empty', 'not-status'], `cut at byte ${at}: ${refused!.message}`).toContain(refused!.code);
        continue;
      }
      const s = parseStatus(cut);
      if (at < afterEnd) {
        expect(s.complete, `cut at byte ${at}`).toBe(false);
        expect(s.format).toBe(full.format);
        // The rows read so far, in order, as the whole file has them; addresses only once their route is read.
        expect(s.sessions.map(identity), `cut at byte ${at}`).toEqual(full.sessions.slice(0, s.sessions.length).map(identity));
        s.sessions.forEach((x, i) => {
          if (x.virtualAddress !== null) expect(x.virtualAddress).toBe(full.sessions[i]!.virtualAddress);
          if (x.virtualIpv6 !== null) expect(x.virtualIpv6).toBe(full.sessions[i]!.virtualIpv6);
        });
      } else {
        expect(s.complete, `cut at byte ${at}`).toBe(true);
        expect(s.sessions).toEqual(full.sessions);
      }
    }
  });
});
