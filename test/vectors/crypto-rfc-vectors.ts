/**
 * Known-answer vectors for src/crypto: HKDF-SHA-256 from RFC 5869 Appendix A.1 ("Test Case 1")
 * and HMAC-SHA-256 from RFC 4231 §4.3 ("Test Case 2"). Values copied from the RFCs and
 * re-derived with Python's hmac/hashlib before being written here.
 *
 * Implements: CRYPTO-PROVIDERS
 */

export const RFC5869_A_1 = {
  source: "RFC 5869 Appendix A.1 (Test Case 1)",
  hash: "SHA-256",
  ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
  salt: "000102030405060708090a0b0c",
  info: "f0f1f2f3f4f5f6f7f8f9",
  length: 42,
  prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
  okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
} as const;

export const RFC4231_4_3 = {
  source: "RFC 4231 §4.3 (Test Case 2)",
  /** "Jefe" */
  key: "4a656665",
  /** "what do ya want for nothing?" */
  data: "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
  hmacSha256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
} as const;
