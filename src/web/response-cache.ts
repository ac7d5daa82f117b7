// Speed under load: one shared snapshot of the store serves every request within ~1 s; each view
// of it (page, view.json, /api/status; per viewer kind, filter and sort) is built and rendered
// once, in steps that let other requests through, and kept with its gzip form. A LiveFeed update
// (something was just stored) invalidates the snapshot at once, so the page never shows a change
// late. Between 1 and 3 s old, the snapshot is still served while a fresh one is read, so no
// request waits for MongoDB under load.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Request, Response } from 'express';
import type { StoreSnapshot } from './viewer.ts';

const gzipAsync = promisify(gzip);

/** Rendered views kept per snapshot: viewer kinds × filters × sorts in use, bounded. */
const MAX_BODIES_PER_SNAPSHOT = 32;

/** A response body rendered once per snapshot, with its gzip form made on first demand (off the main thread). */
export interface Body {
  type: string;
  raw: Buffer;
  gzipped?: Promise<Buffer>;
}

export interface CachedSnapshot {
  snapshot: StoreSnapshot;
  /** What the data depends on; two reads with one signature show the same data. */
  signature: string;
  readAt: number;
  generation: number;
  bodies: Map<string, Promise<Body>>;
}

/**
 * How long rendered bodies are reused while the data has not changed. Rendering 5,000 rows takes
 * ~100 ms of the event loop; doing that every second for an unchanged page made it the slowest
 * percent of requests. Durations and `generatedAt` in a reused body are up to this much old.
 */
const REUSE_UNCHANGED_MS = 5_000;

/**
 * One store read shared by all requests: fresh for `freshMs`, then served while a new read runs
 * until 3 × that. After an update, requests wait for a read that began after it. Reads run one at a
 * time, so a burst of updates (a management stream on many servers) cannot stack them up.
 */
export class SnapshotCache {
  private current: CachedSnapshot | undefined;
  private reading: { generation: number; entry: Promise<CachedSnapshot> } | undefined;
  private generation = 0;

  constructor(private readonly read: () => Promise<{ snapshot: StoreSnapshot; signature: string }>, private readonly freshMs: number) {}

  /** Something was stored: the next request needs a read that starts after this. */
  invalidate(): void {
    this.generation++;
  }

  async get(): Promise<CachedSnapshot> {
    const c = this.current;
    const usable = c !== undefined && c.generation === this.generation;
    const age = usable ? performance.now() - c.readAt : Infinity;
    if (usable && age < this.freshMs) return c;
    const next = this.refresh();
    if (usable && age < 3 * this.freshMs) {
      next.catch(() => { /* the next request that has to wait will see the error */ });
      return c;
    }
    return next;
  }

  private refresh(): Promise<CachedSnapshot> {
    const generation = this.generation;
    if (this.reading?.generation === generation) return this.reading.entry;
    const before = this.reading?.entry.catch(() => undefined);
    const entry = (async () => {
      await before;
      const readAt = performance.now();
      const { snapshot, signature } = await this.read();
      const previous = this.current;
      const unchanged = previous !== undefined && previous.signature === signature && generation === previous.generation
        && snapshot.at.getTime() - previous.snapshot.at.getTime() < REUSE_UNCHANGED_MS;
      // Unchanged data: keep the previous snapshot and the bodies rendered from it, freshly dated.
      const fresh: CachedSnapshot = unchanged
        ? { ...previous, readAt }
        : { snapshot, signature, readAt, generation, bodies: new Map() };
      if (generation === this.generation) this.current = fresh;
      return fresh;
    })();
    const reading = { generation, entry };
    this.reading = reading;
    entry.catch(() => undefined).finally(() => { if (this.reading === reading) this.reading = undefined; });
    return entry;
  }
}

/** The body for `key` in this snapshot, made once: concurrent requests for it share the one being made. */
export function bodyFor(entry: CachedSnapshot, key: string, make: () => Promise<Body>): Promise<Body> {
  let body = entry.bodies.get(key);
  if (!body) {
    if (entry.bodies.size >= MAX_BODIES_PER_SNAPSHOT) entry.bodies.delete(entry.bodies.keys().next().value!);
    body = make();
    entry.bodies.set(key, body);
    body.catch(() => entry.bodies.delete(key));
  }
  return body;
}

export async function sendBody(req: Request, res: Response, body: Body): Promise<void> {
  res.setHeader('Content-Type', body.type);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Vary', 'Accept-Encoding, Authorization, Cookie');
  if (body.raw.length > 1024 && req.acceptsEncodings('gzip') === 'gzip') {
    body.gzipped ??= gzipAsync(body.raw, { level: 6 });
    const gz = await body.gzipped;
    res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Length', gz.length);
    res.end(gz);
  } else {
    res.setHeader('Content-Length', body.raw.length);
    res.end(body.raw);
  }
}

/** Lets the event loop serve other requests in the middle of long work (rendering 5,000 rows). */
export const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs a stepped computation (page-view.ts), letting other requests through between steps. */
export async function stepped<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await breathe();
  }
}

/** JSON of a value built by `make`, with a breath between building and serialising (both take ~10 ms at 5,000 sessions). */
export async function jsonBody(make: () => unknown): Promise<Body> {
  const value = await make();
  await breathe();
  return { type: 'application/json; charset=utf-8', raw: Buffer.from(JSON.stringify(value)) };
}
