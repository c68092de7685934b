/**
 * Digest challenges remembered across one-off processes (issue 9 item 5), so the next `rotate`
 * answers pre-emptively instead of paying a 401 challenge round trip first.
 *
 * What is stored: per server origin, the canonical challenge (realm, nonce, opaque, qop,
 * algorithm) — nothing secret. The server sends exactly these in clear to any unauthenticated
 * caller; a Digest response cannot be computed from them without the private key (HA1), and
 * replay is prevented by the server tracking (nonce, cnonce, nc), with every process sending a
 * fresh random cnonce. The file is still created 0600 (it says which servers the operator uses).
 *
 * Where: `<vault.path>.mongodb-digest.json`, beside the file vault (ProviderDeps.statePath):
 * one place per installation that every process already shares and may write, and a path that
 * config/boundaries already protects from outputs (it starts with the vault path). Without a file
 * vault (AWS vault) nothing is kept: each process pays the challenge.
 *
 * A refused remembered nonce costs no extra round trip (the 401 carries a new challenge, which
 * digest-fetch answers at once), but the server logs it as a replay. So a server that refuses one
 * with a plain 401 (not `stale=true`: it counts `nc` per nonce, not per client) is marked
 * `refused`, and later processes stop offering nonces to it for a day.
 * Reads and writes are best effort: a missing, unreadable or corrupt file only costs the
 * challenge; a concurrent writer may win (last rename wins; both contents are valid).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface NonceCache {
  /** The canonical challenge to answer pre-emptively at `origin`, if any. */
  get(origin: string): string | undefined;
  /** Remembers the challenge a server answered successfully. */
  put(origin: string, challenge: string): void;
  /** The server refused a remembered nonce (not stale): stop reusing nonces there for a while. */
  refuse(origin: string): void;
}

type Entry = { challenge: string; savedAtMs: number } | { refusedAtMs: number };

/** How long a refusal is believed before a process tries reuse again. */
export const REFUSAL_MEMORY_MS = 24 * 3_600_000;
/** Entries older than this are not offered (the server would answer stale=true anyway). */
export const CHALLENGE_MAX_AGE_MS = 24 * 3_600_000;

export function fileNonceCache(path: string, now: () => number = Date.now): NonceCache {
  const readAll = (): Record<string, Entry> => {
    try {
      const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
      return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, Entry>) : {};
    } catch {
      return {};
    }
  };
  const write = (origin: string, entry: Entry): void => {
    try {
      const all = { ...readAll(), [origin]: entry };
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(all), { mode: 0o600 });
      chmodSync(temp, 0o600);
      renameSync(temp, path);
    } catch {
      // Best effort: the next process pays one challenge round trip.
    }
  };
  return {
    get(origin) {
      const entry = readAll()[origin];
      if (!entry) return undefined;
      if ('refusedAtMs' in entry) return undefined;
      if (typeof entry.challenge !== 'string' || !(now() - entry.savedAtMs < CHALLENGE_MAX_AGE_MS)) return undefined;
      return entry.challenge;
    },
    put(origin, challenge) {
      const entry = readAll()[origin];
      if (entry && 'refusedAtMs' in entry && now() - entry.refusedAtMs < REFUSAL_MEMORY_MS) return;
      write(origin, { challenge, savedAtMs: now() });
    },
    refuse(origin) {
      write(origin, { refusedAtMs: now() });
    },
  };
}
