/**
 * RFC 2617 §3.5 "Example": the classic Mufasa exchange, MD5 with qop=auth. The RFC prints the
 * request and the `response`; HA1, HA2 and `rspauth` were computed with Python's hashlib
 * (the RFC prints none of them) and are recomputed with node:crypto by the test.
 *
 * Implements: DIGEST-VECTORS
 */
import type { DigestVector } from "./digest-vector.ts";

export const RFC2617_SECTION_3_5: DigestVector = {
  source: "RFC 2617 §3.5",
  algorithm: "MD5",
  username: "Mufasa",
  realm: "testrealm@host.com",
  password: "Circle Of Life",
  method: "GET",
  uri: "/dir/index.html",
  nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
  nc: "00000001",
  cnonce: "0a4f113b",
  qop: "auth",
  opaque: "5ccc069c403ebaf9f0171e9517f40e41",
  expected: {
    ha1: "939e7578ed9e3c518a452acee763bce9",
    ha2: "39aff3a2bab6126f332b942af96d3366",
    response: "6629fae49393a05397450978507c4ef1",
    rspauth: "376602cfd2f4e8e5e78b948a85263e85",
  },
};
