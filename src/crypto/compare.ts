/**
 * Constant-time equality. RFC 7616 §5.x does not demand it, but a Digest
 * `response` compared with an early-exit loop leaks how many leading characters
 * matched; the time taken here depends only on the lengths.
 *
 * Implements: CRYPTO-PROVIDERS
 */
import { utf8 } from "./bytes.ts";

export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Compares two strings (hex digests, tokens) without an early exit. */
export function timingSafeEqualString(a: string, b: string): boolean {
  if (a.length === b.length) {
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return diff === 0;
  }
  return timingSafeEqualBytes(utf8(a), utf8(b));
}
