// Speed under load: one shared snapshot of the store serves every request for about a second, and
// a snapshot whose version did not change is kept with everything made from it: each response
// body (page, view.json, API; per viewer kind and query) is built once per version and kept with
// its gzip form, and a request that already has it (If-None-Match) gets a 304. A LiveFeed update
// (something the page shows was just stored) makes the next request read the store again.
// Between 1 and 3 s old, the snapshot is still served while a fresh one is read, so no request
// waits for MongoDB under load.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Request, Response } from 'express';
import type { StoreSnapshot } from './snapshot.ts';

const gzipAsync = promisify(gzip);

/** Rendered bodies kept per snapshot version (a user or a paged view is a few to tens of kB; the whole API ~1.5 MB). */
const MAX_BODIES = 10_000;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** A response body rendered once per snapshot version, with its gzip form made on first demand (off the main thread). */
export interface Body {
  type: string;
  raw: Buffer;
  gzipped?: Promise<Buffer>;
  /** A status other than 200 (a 404 is kept like any answer): sent without an ETag, never stored. */
  status?: number;
}

export interface CachedSnapshot {
  snapshot: StoreSnapshot;
  readAt: number;
  generation: number;
  bodies: Map<string, Promise<Body>>;
  bodyBytes: number;
  /** Anything else worth computing once per version (sorted session lists): see memo(). */
  memos: Map<string, unknown>;
}

/** A value computed once per snapshot version. */
export function memo<T>(entry: CachedSnapshot, key: string, make: () => T): T {
  if (!entry.memos.has(key)) entry.memos.set(key, make());
  return entry.memos.get(key) as T;
}

/**
 * One store read shared by all requests: fresh for `freshMs`, then served while a new read runs
 * until 3 × that. After an update, requests wait for a read that began after it. Reads run one at a
 * time, so a burst of updates cannot stack them up. A read that finds the same version keeps the
 * previous snapshot and its bodies (only its age is renewed).
 */
export class SnapshotCache {
  private current: CachedSnapshot | undefined;
  private reading: { generation: number; entry: Promise<CachedSnapshot> } | undefined;
  private generation = 0;

  constructor(private readonly read: () => Promise<Omit<StoreSnapshot, 'at'>>, private readonly freshMs: number, private readonly now: () => Date = () => new Date()) {}

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
      const read = await this.read();
      const previous = this.current;
      const fresh: CachedSnapshot = previous?.snapshot.version === read.version
        ? Object.assign(previous, { readAt, generation })
        : { snapshot: { ...read, at: this.now() }, readAt, generation, bodies: new Map(), bodyBytes: 0, memos: new Map() };
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
  if (body) {
    // Least recently used goes first: a body in use moves to the end.
    entry.bodies.delete(key);
    entry.bodies.set(key, body);
    return body;
  }
  body = make();
  entry.bodies.set(key, body);
  body.then((b) => {
    entry.bodyBytes += b.raw.length;
    for (const [oldKey, old] of entry.bodies) {
      if (entry.bodies.size <= MAX_BODIES && entry.bodyBytes <= MAX_BODY_BYTES) break;
      if (oldKey === key) continue;
      entry.bodies.delete(oldKey);
      old.then((o) => { entry.bodyBytes -= o.raw.length; }, () => undefined);
    }
  }, () => entry.bodies.delete(key));
  return body;
}

/** The ETag of a data response: the snapshot's version and what the body depends on about its viewer. */
export function etagOf(entry: CachedSnapshot, viewerKind: string): string {
  return `W/"${entry.snapshot.version}.${viewerKind}"`;
}

/** True (and the 304 sent) when the client already has this version. */
export function notModified(req: Request, res: Response, etag: string): boolean {
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'private, no-cache');
  res.setHeader('Vary', 'Accept-Encoding, Authorization, Cookie');
  const wanted = req.get('if-none-match');
  if (!wanted || !wanted.split(',').some((t) => t.trim() === etag || t.trim() === '*')) return false;
  res.status(304).end();
  return true;
}

export async function sendBody(req: Request, res: Response, body: Body): Promise<void> {
  if (body.status) {
    res.status(body.status).removeHeader('ETag');
    res.setHeader('Cache-Control', 'no-store');
  }
  res.setHeader('Content-Type', body.type);
  if (!res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', 'no-store');
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

/** Lets the event loop serve other requests in the middle of long work (the whole API at 5,000 sessions). */
export const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

/** JSON of a value built by `make`, with a breath between building and serialising (both take ~10 ms at 5,000 sessions). */
export async function jsonBody(make: () => unknown): Promise<Body> {
  const value = make();
  await breathe();
  return { type: 'application/json; charset=utf-8', raw: Buffer.from(JSON.stringify(value)) };
}
