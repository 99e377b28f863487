/**
 * RFC 7616 §3.9.2 "Example with SHA-512-256, Charset, and Userhash", with the values of
 * erratum 4897. The RFC's printed `username` (userhash) and `response` were produced with
 * SHA-512 truncated to 256 bits, not with SHA-512/256 (FIPS 180-4 §5.3.6 gives SHA-512/256 its
 * own initial hash value): H("Jäsøn Doe:api@example.org") with SHA-512 cut in half is the
 * printed 488869477b..., with real SHA-512/256 it is 793263caab.... The expected values below
 * were computed with Python's `hashlib.new("sha512_256")` and match erratum 4897; the printed
 * ones are kept in `printedInRfc` only so a test can assert we do NOT produce them.
 * HA1, HA2 and `rspauth` are not printed anywhere; they come from hashlib too.
 *
 * Implements: DIGEST-VECTORS
 */
import type { DigestVector } from "./digest-vector.ts";

export const RFC7616_SECTION_3_9_2: DigestVector = {
  source: "RFC 7616 §3.9.2",
  note: "userhash and response per erratum 4897 (the RFC printed SHA-512 truncated values)",
  algorithm: "SHA-512-256",
  // J U+00E4 s U+00F8 n SP D o e: octets 4A C3A4 73 C3B8 6E 20 44 6F 65 in UTF-8.
  username: "J\u00e4s\u00f8n Doe",
  realm: "api@example.org",
  password: "Secret, or not?",
  method: "GET",
  uri: "/doe.json",
  nonce: "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
  nc: "00000001",
  cnonce: "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
  qop: "auth",
  opaque: "HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS",
  userhash: true,
  expected: {
    ha1: "2d3d9f12c9f3d30011259dc5fecee005ae24de40e3e1f61806d03e65f1e6024f",
    ha2: "1734b070bafdeb53ae52f93659427bb4bc545e2ef4d5e74ba247dad4861b4634",
    response: "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5",
    rspauth: "2a14c644cc564038709393846dc914772273b178abe03a2fb02c9684116bbc2d",
    userhash: "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b",
    usernameStar: "UTF-8''J%C3%A4s%C3%B8n%20Doe",
  },
  printedInRfc: {
    response: "ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd",
    userhash: "488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec",
  },
};
