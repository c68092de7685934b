import { createHash } from 'node:crypto';
import { DigestClient } from 'digest-fetch';
import { asTimeout, httpBounds, readCapped } from '../kit/http';
import { fileNonceCache, type NonceCache } from './nonce-cache';

/**
 * HTTP Digest for the MongoDB Cloud Manager / Atlas Admin API, on digest-fetch (the mandated
 * library: it computes the MD5 response and writes the Authorization header).
 *
 * What digest-fetch 3.1.1 does not do, and what this adapter does around it:
 * - concurrent requests on one client reuse the same `nc` (it increments after the answer), which
 *   a server rejects as a replay: each client here serves one request at a time, and a pool keeps
 *   a few clients per (origin, API key) so that concurrent rotations still run in parallel;
 * - it reads the challenge with strict regexes (`qop=`): the challenge goes through
 *   {@link normalizeChallenge} first (via the instance's `parseAuth`), which accepts the
 *   documented typo `op="auth"`, quoted or unquoted values, and refuses algorithms other than MD5
 *   (digest-fetch takes the algorithm from its constructor, not from the challenge);
 * - it never reads `stale=true`; instead any 401 to an authorized request re-challenges once,
 *   which covers a stale nonce (one extra round trip) and never loops;
 * - a `URL` object crashes it: only string URLs reach it;
 * - it uses the global fetch without a timeout: the adapter supplies the fetch (through the
 *   instance's `getClient`), which counts round trips, applies the total deadline (both round
 *   trips included) and the shutdown signal, and buffers every body (capped at 1 MiB) so a
 *   connection is never held by an unread 401.
 * After the first request of a client, its nonce is cached: one round trip per request.
 * Across processes (one-off `rotate`), a pool given a {@link NonceCache} seeds its first client
 * with the last challenge the server answered, so the first request goes out authorized with a
 * fresh cnonce and nc=00000001; a 401 (stale or not) falls back to the normal challenge once.
 */

export interface DigestRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  /** Absolute URL, as a string (digest-fetch computes the digest `uri` from it). */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface DigestResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface DigestStats {
  /** Logical requests (calls of `request`). */
  requests: number;
  /** HTTP exchanges on the wire, challenges included. */
  roundTrips: number;
  /** Digest clients created (each pays one challenge round trip on its first request). */
  clients: number;
}

export const DEFAULT_POOL_SIZE = 4;

/** Thrown when a challenge cannot be answered (not Digest, no nonce, unsupported algorithm). */
export class DigestChallengeError extends Error {}

/**
 * Reads a `WWW-Authenticate: Digest …` challenge tolerantly and writes it back in the canonical
 * form digest-fetch parses. Returns undefined when it is not a usable Digest challenge.
 */
export function parseChallenge(header: string | null | undefined): DigestChallenge | undefined {
  if (!header) return undefined;
  const match = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let m = re.exec(match[1]!); m; m = re.exec(match[1]!)) {
    params[m[1]!.toLowerCase()] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
  }
  const nonce = params.nonce;
  if (!nonce) return undefined;
  const qopList = (params.qop ?? params.op ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase())
    .filter(Boolean);
  return {
    realm: params.realm ?? '',
    nonce,
    ...(params.opaque === undefined ? {} : { opaque: params.opaque }),
    algorithm: (params.algorithm ?? 'MD5').toUpperCase(),
    qop: qopList.includes('auth') ? 'auth' : qopList.length > 0 ? qopList[0]! : undefined,
    stale: (params.stale ?? '').toLowerCase() === 'true',
  };
}

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: string;
  qop?: string;
  stale: boolean;
}

/** The canonical header digest-fetch's own parser reads correctly. */
export function normalizeChallenge(header: string | null | undefined): string {
  const c = parseChallenge(header);
  if (!c) return '';
  if (c.algorithm !== 'MD5')
    throw new DigestChallengeError(`the server asked for Digest algorithm ${c.algorithm}; only MD5 is supported`);
  if (c.qop !== undefined && c.qop !== 'auth')
    throw new DigestChallengeError(`the server asked for Digest qop=${c.qop}; only auth is supported`);
  const parts = [`realm="${c.realm}"`, `nonce="${c.nonce}"`];
  if (c.qop) parts.push(`qop="${c.qop}"`);
  if (c.opaque !== undefined) parts.push(`opaque="${c.opaque}"`);
  return `Digest ${parts.join(', ')}`;
}

interface Slot {
  client: DigestClient;
  busy: boolean;
  /** Set while the slot's first exchange answers a remembered challenge (not yet confirmed). */
  seeded?: boolean;
  /** The challenge last written to the nonce cache by this slot (no rewrite per request). */
  saved?: string;
}

/** Where a pool remembers challenges across processes, and under which server origin. */
export interface NonceReuse {
  origin: string;
  cache: NonceCache;
}

/** Per-request state the slot's fetch needs (set while the slot serves that request). */
interface InFlight {
  signal: AbortSignal;
}

/**
 * A small pool of digest-fetch clients for one API key. Each client serves one request at a time
 * (so its `nc` strictly increases per nonce); clients are created lazily, up to `size`, only when
 * all existing ones are busy, so a sequential caller uses one client and one challenge.
 */
export class DigestPool {
  readonly stats: DigestStats = { requests: 0, roundTrips: 0, clients: 0 };
  private readonly slots: Slot[] = [];
  private readonly waiters: ((slot: Slot) => void)[] = [];
  private readonly inFlight = new Map<Slot, InFlight>();

  constructor(
    private readonly publicKey: string,
    private readonly privateKey: string,
    readonly size: number = DEFAULT_POOL_SIZE,
    private readonly reuse?: NonceReuse,
  ) {}

  async request(req: DigestRequest): Promise<DigestResponse> {
    this.stats.requests++;
    const timeout = AbortSignal.timeout(req.timeoutMs ?? httpBounds.deadlineMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const slot = await this.acquire(signal);
    this.inFlight.set(slot, { signal });
    try {
      const res = (await slot.client.fetch(req.url, {
        // A fresh options object per attempt: digest-fetch writes the Authorization header into it.
        factory: () => ({
          method: req.method,
          headers: { ...req.headers },
          ...(req.body === undefined ? {} : { body: req.body }),
        }),
      })) as Response;
      const text = await res.text();
      this.remember(slot, res.status);
      return { status: res.status, headers: res.headers, text };
    } catch (err) {
      // The server may have accepted this nc before the connection failed; digest-fetch only
      // counts answered requests, so move on to avoid offering the same nc again (a replay).
      slot.client.digest.nc++;
      throw asTimeout(err, signal, req.signal);
    } finally {
      this.inFlight.delete(slot);
      this.release(slot);
    }
  }

  private newSlot(): Slot {
    const client = new DigestClient(this.publicKey, this.privateKey, { algorithm: 'MD5' });
    const slot: Slot = { client, busy: true };
    const parseAuth = client.parseAuth.bind(client);
    client.parseAuth = (header: string) => parseAuth(normalizeChallenge(header));
    client.getClient = async () => (url: string, options: RequestInit) => this.send(slot, url, options);
    // Only the first client answers a remembered challenge: a server counting nc per nonce would
    // refuse a second client's nc=00000001 on the same nonce.
    const remembered = this.slots.length === 0 ? this.reuse?.cache.get(this.reuse.origin) : undefined;
    if (remembered !== undefined) {
      try {
        client.parseAuth(remembered); // a fresh cnonce, nc=00000001
        slot.seeded = client.hasAuth;
        slot.saved = remembered;
      } catch {
        client.hasAuth = false; // an unusable entry (e.g. another algorithm): challenge as usual
      }
    }
    this.stats.clients++;
    this.slots.push(slot);
    return slot;
  }

  /** One HTTP exchange, counted; the body is read here so the connection is released at once. */
  private async send(slot: Slot, url: string, options: RequestInit): Promise<Response> {
    if (typeof url !== 'string') throw new TypeError('digest requests take string URLs only');
    this.stats.roundTrips++;
    const signal = this.inFlight.get(slot)?.signal;
    const res = await fetch(url, { ...options, ...(signal ? { signal } : {}), redirect: 'manual' });
    if (slot.seeded) {
      slot.seeded = false;
      // A plain 401 to a remembered nonce: this server does not let a new client reuse it.
      if (res.status === 401 && this.reuse && parseChallenge(res.headers.get('www-authenticate'))?.stale === false) {
        this.reuse.cache.refuse(this.reuse.origin);
      }
    }
    // Capped at 1 MiB after decompression (BodyTooLarge); the signal is the request's total deadline.
    const body = await readCapped(res);
    const empty = res.status === 204 || res.status === 304 || res.status < 200;
    return new Response(empty ? null : body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  /** After an answered request: a challenge the server accepted is offered to later processes. */
  private remember(slot: Slot, status: number): void {
    const challenge = slot.client.lastAuth as string | undefined;
    if (!this.reuse || status === 401 || !slot.client.hasAuth || !challenge || challenge === slot.saved) return;
    slot.saved = challenge;
    this.reuse.cache.put(this.reuse.origin, challenge);
  }

  private acquire(signal: AbortSignal): Promise<Slot> {
    // Prefer a client that already holds a nonce: one round trip instead of two.
    const free = this.slots.find((s) => !s.busy && s.client.hasAuth) ?? this.slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    if (this.slots.length < this.size) return Promise.resolve(this.newSlot());
    return new Promise((resolve, reject) => {
      const waiter = (slot: Slot) => {
        signal.removeEventListener('abort', onAbort);
        resolve(slot);
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private release(slot: Slot): void {
    const next = this.waiters.shift();
    if (next) next(slot);
    else slot.busy = false;
  }
}

const pools = new Map<string, DigestPool>();

/**
 * The pool shared by every provider instance using this API key at this origin, so twenty
 * secrets behind one key pay a handful of challenges, not twenty.
 */
export function digestPoolFor(baseUrl: string, publicKey: string, privateKey: string, nonceFile?: string): DigestPool {
  const keyHash = createHash('sha256').update(`${publicKey}\0${privateKey}`).digest('hex');
  const origin = new URL(baseUrl).origin;
  const key = `${origin} ${keyHash}`;
  let pool = pools.get(key);
  if (!pool) {
    const reuse = nonceFile === undefined ? undefined : { origin, cache: fileNonceCache(nonceFile) };
    pool = new DigestPool(publicKey, privateKey, DEFAULT_POOL_SIZE, reuse);
    pools.set(key, pool);
  }
  return pool;
}

/** Totals over every shared pool (tests, bench). */
export function digestStats(): DigestStats {
  const total: DigestStats = { requests: 0, roundTrips: 0, clients: 0 };
  for (const pool of pools.values()) {
    total.requests += pool.stats.requests;
    total.roundTrips += pool.stats.roundTrips;
    total.clients += pool.stats.clients;
  }
  return total;
}

/** Forgets every shared pool (tests that count from zero). */
export function resetDigestPools(): void {
  pools.clear();
}
