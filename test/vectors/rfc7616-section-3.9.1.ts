/**
 * RFC 7616 §3.9.1 "Example with SHA-256 and MD5". The password is "Circle of Life" with a
 * lower-case "o", as verified erratum 4495 states (RFC 2617 used "Circle Of Life"; the printed
 * responses only come out with the lower-case spelling). `response` values are the RFC's;
 * HA1, HA2 and `rspauth` were computed with Python's hashlib and are recomputed with
 * node:crypto by the test.
 *
 * Implements: DIGEST-VECTORS
 */
import type { DigestVector } from "./digest-vector.ts";

const common = {
  source: "RFC 7616 §3.9.1",
  note: 'password "Circle of Life" per verified erratum 4495',
  username: "Mufasa",
  realm: "http-auth@example.org",
  password: "Circle of Life",
  method: "GET",
  uri: "/dir/index.html",
  nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
  nc: "00000001",
  cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
  qop: "auth",
  opaque: "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
} as const;

export const RFC7616_SECTION_3_9_1: readonly DigestVector[] = [
  {
    ...common,
    algorithm: "MD5",
    expected: {
      ha1: "3d78807defe7de2157e2b0b6573a855f",
      ha2: "39aff3a2bab6126f332b942af96d3366",
      response: "8ca523f5e9506fed4657c9700eebdbec",
      rspauth: "9b712497bc9f91499fbcca1dfc5f09a5",
      userhash: "4238f3a16167373febb9bc4d43db9cc4",
    },
  },
  {
    ...common,
    algorithm: "SHA-256",
    expected: {
      ha1: "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232",
      ha2: "9a3fdae9a622fe8de177c24fa9c070f2b181ec85e15dcbdc32e10c82ad450b04",
      response: "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
      rspauth: "86d3b25618d41854ca5039a5d7e53ff6355d5134a9b1fb088a78ac3c462195a0",
      userhash: "a947aad205e80e429958a387394944c6b496301e79f89d35a4cc23b6ee12b5b6",
    },
  },
];

/** With the RFC 2617 spelling "Circle Of Life" the printed responses are NOT reproduced. */
export const RFC7616_SECTION_3_9_1_WRONG_PASSWORD = "Circle Of Life";
