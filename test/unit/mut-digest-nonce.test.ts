/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/digest/nonce.ts and
 * src/digest/ledger.ts): the nonce's byte layout and MAC input exactly as nonce.ts documents
 * them (so two instances, or another implementation sharing the secret, agree), checked
 * against an independent HMAC on node:crypto; the clock-skew and lifetime boundaries from
 * both sides; the verifier keeping its own copy of the secret; and the replay ledger's sweep
 * and expiry boundaries, observed through `size` with a fake clock.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  createDigestVerifier,
  MemoryReplayLedger,
  staticCredentials,
} from "../../src/digest/index.ts";
import { freshness, NonceFactory } from "../../src/digest/nonce.ts";
import { answerChallenge } from "../vectors/reference-digest.ts";

const SECRET = new TextEncoder().encode("nonce-kat-secret-0123456789abcdef");
const REALM = "kat@example.org";
const EPOCH = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const RANDOM = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

/** A CryptoProvider whose randomness is fixed, so an issued nonce is a known answer. */
const fixedCrypto = {
  getRandomValues<T extends ArrayBufferView | null>(array: T): T {
    if (array) new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(RANDOM);
    return array;
  },
} as unknown as Crypto;

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** nonce.ts's documented format, written again on node:crypto. */
function expectedNonce(issuedAtMs: number, epoch: Uint8Array, realm: string): string {
  const body = Buffer.alloc(16);
  body.writeBigUInt64BE(BigInt(issuedAtMs), 0);
  Buffer.from(RANDOM).copy(body, 8);
  const mac = createHmac("sha256", SECRET)
    .update(Buffer.from("cpns-digest-nonce-v2\u0000", "utf8"))
    .update(Uint8Array.of(epoch.length))
    .update(epoch)
    .update(Buffer.from(`${realm}\u0000`, "utf8"))
    .update(body)
    .digest()
    .subarray(0, 16);
  return b64url(Buffer.concat([body, mac]));
}

describe("[DIGEST-NONCE][DIGEST-EPOCH] the nonce is exactly the documented layout", () => {
  it("[DIGEST-NONCE][DIGEST-EPOCH] issuedAt || random || HMAC-SHA-256(secret, label, len(epoch), epoch, realm, body)[0..16), base64url", () => {
    const factory = new NonceFactory(SECRET, REALM, fixedCrypto, EPOCH);
    const nonce = factory.issue(T0 + 0.9);
    expect(nonce).toBe(expectedNonce(T0, EPOCH, REALM));
    expect(nonce).toHaveLength(43);
    expect(factory.check(nonce)).toEqual({ valid: true, issuedAtMs: T0 });
  });

  it("[DIGEST-NONCE][DIGEST-EPOCH] without an epoch the length byte is 0 and nothing else is added", () => {
    const factory = new NonceFactory(SECRET, REALM, fixedCrypto);
    expect(factory.issue(T0)).toBe(expectedNonce(T0, new Uint8Array(0), REALM));
  });

  it("[DIGEST-NONCE] the opaque value is HMAC-SHA-256(secret, 'cpns-digest-opaque-v1' 0x00 realm 0x00)[0..12)", () => {
    const factory = new NonceFactory(SECRET, REALM, fixedCrypto, EPOCH);
    const mac = createHmac("sha256", SECRET)
      .update(Buffer.from(`cpns-digest-opaque-v1\u0000${REALM}\u0000`, "utf8"))
      .digest()
      .subarray(0, 12);
    expect(factory.opaque()).toBe(b64url(mac));
  });

  it("[DIGEST-NONCE] an epoch longer than 255 bytes cannot be length-prefixed in one byte: refused", () => {
    expect(() => new NonceFactory(SECRET, REALM, fixedCrypto, new Uint8Array(256))).toThrow(
      new TypeError("digest: a ledger epoch is at most 255 bytes"),
    );
    expect(() => new NonceFactory(SECRET, REALM, fixedCrypto, new Uint8Array(255))).not.toThrow();
  });

  it("[DIGEST-NONCE][DIGEST-NONCE-CANONICAL] what is not a base64url nonce is invalid, never valid without a time", () => {
    const factory = new NonceFactory(SECRET, REALM, fixedCrypto, EPOCH);
    const good = factory.issue(T0);
    for (const bad of ["", "!!!!", "a", `${good}=`, `${good}A`, good.slice(0, -1), "é"]) {
      expect(factory.check(bad)).toEqual({ valid: false });
    }
    // A genuine MAC over another body, or a body under another MAC: both invalid.
    const raw = Buffer.from(good, "base64url");
    raw[0] = (raw[0] as number) ^ 1;
    expect(factory.check(b64url(raw))).toEqual({ valid: false });
  });
});

describe("[DIGEST-NONCE] freshness boundaries, from both sides", () => {
  const LIFETIME = 60_000;
  it("[DIGEST-NONCE] up to 5 s in the future is clock skew (fresh); 1 ms more is forged", () => {
    expect(freshness(T0 + 5_000, T0, LIFETIME)).toBe("fresh");
    expect(freshness(T0 + 5_001, T0, LIFETIME)).toBe("future");
  });

  it("[DIGEST-NONCE] good for [issuedAt, issuedAt + lifetime): expired at the lifetime, not 1 ms before", () => {
    expect(freshness(T0, T0, LIFETIME)).toBe("fresh");
    expect(freshness(T0, T0 + LIFETIME - 1, LIFETIME)).toBe("fresh");
    expect(freshness(T0, T0 + LIFETIME, LIFETIME)).toBe("expired");
  });
});

describe("[DIGEST-NONCE] the verifier keeps its own copy of the secret", () => {
  it("[DIGEST-NONCE] a caller zeroing or reusing its secret buffer afterwards does not change the nonce key", async () => {
    const secret = new Uint8Array(SECRET);
    const verifier = createDigestVerifier({
      realm: REALM,
      secret,
      lookup: staticCredentials({ alice: "pw" }),
      algorithms: ["SHA-256"],
      now: () => T0,
    });
    const challenge = verifier.challenges()[0] as string;
    secret.fill(0);
    const { header } = answerChallenge(challenge, { username: "alice", password: "pw", uri: "/x" });
    const outcome = await verifier.verify({
      method: "GET",
      url: "http://h/x",
      authorization: header,
    });
    expect(outcome.ok).toBe(true);
  });
});

describe("[DIGEST-REPLAY] the in-memory ledger's sweep and expiry boundaries", () => {
  it("[DIGEST-REPLAY] the sweep runs exactly when its interval is up and drops entries whose expiry has come", async () => {
    const clock = { now: 0 };
    const ledger = new MemoryReplayLedger({ now: () => clock.now, sweepIntervalMs: 1_000 });
    expect(await ledger.accept("a", 1, 1_000)).toBe(true);
    expect(await ledger.accept("b", 1, 5_000)).toBe(true);
    clock.now = 999;
    expect(await ledger.accept("c", 1, 5_000)).toBe(true);
    expect(ledger.size).toBe(3); // no sweep before the interval is up
    clock.now = 1_000;
    expect(await ledger.accept("d", 1, 5_000)).toBe(true);
    // Swept at exactly 1,000 ms, and "a" (expiring at exactly 1,000 ms) went with it.
    expect(ledger.size).toBe(3);
    clock.now = 1_999;
    expect(await ledger.accept("e", 1, 1_999)).toBe(true);
    expect(ledger.size).toBe(4); // next sweep not before 2,000 ms
  });

  it("[DIGEST-REPLAY] an entry is used until its expiry, not at it (the nonce itself is expired by then)", async () => {
    const clock = { now: 0 };
    const ledger = new MemoryReplayLedger({ now: () => clock.now, sweepIntervalMs: 1_000_000 });
    expect(await ledger.accept("n", 1, 500)).toBe(true);
    clock.now = 499;
    expect(await ledger.accept("n", 1, 500)).toBe(false);
    clock.now = 500;
    // The entry no longer counts: nc 1 starts a new window (the verifier refuses the nonce as stale first).
    expect(await ledger.accept("n", 1, 1_000)).toBe(true);
    expect(await ledger.accept("n", 1, 1_000)).toBe(false);
  });

  it("[DIGEST-REPLAY] an entry's expiry is set by its first answer: a later call cannot stretch the window", async () => {
    const clock = { now: 0 };
    const ledger = new MemoryReplayLedger({ now: () => clock.now, sweepIntervalMs: 1_000_000 });
    expect(await ledger.accept("n", 1, 500)).toBe(true);
    expect(await ledger.accept("n", 2, 10_000)).toBe(true);
    clock.now = 500;
    // The entry ended at 500 whatever the second call said: nc 2 starts a new window.
    expect(await ledger.accept("n", 2, 10_000)).toBe(true);
  });

  it("[DIGEST-REPLAY] window sizes outside 1..32 and non-integers are refused; the edges are allowed", () => {
    for (const window of [0, 33, 1.5, Number.NaN]) {
      expect(() => new MemoryReplayLedger({ window })).toThrow(
        new RangeError("window must be an integer from 1 to 32"),
      );
    }
    expect(() => new MemoryReplayLedger({ window: 1 })).not.toThrow();
    expect(() => new MemoryReplayLedger({ window: 32 })).not.toThrow();
  });
});
