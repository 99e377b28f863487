/**
 * Vectors for what no RFC example shows: the "-sess" algorithms (RFC 7616 §3.4.2), SHA-512-256
 * without userhash, and qop=auth-int (RFC 7616 §3.4.3, rspauth per §3.5 with
 * A2 = ":" uri ":" H(response-body)). NOT from an RFC: they reuse the RFC 7616 §3.9.1 inputs
 * and were computed with Python's hashlib (/usr/bin/python3); the test recomputes each one with
 * node:crypto as a second independent implementation.
 */
import type { DigestVector } from "./digest-vector.ts";

const base = {
  source: "derived from RFC 7616 §3.9.1 inputs (Python hashlib)",
  username: "Mufasa",
  realm: "http-auth@example.org",
  password: "Circle of Life",
  uri: "/dir/index.html",
  nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
  cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
} as const;

const get = { ...base, method: "GET", nc: "00000001", qop: "auth" } as const;
const post = {
  ...base,
  method: "POST",
  nc: "00000002",
  qop: "auth-int",
  body: '{"hello":"world"}',
  responseBody: '{"ok":true}',
} as const;
const postEmpty = { ...post, body: "", responseBody: "" } as const;

export const DERIVED_VECTORS: readonly DigestVector[] = [
  {
    ...get,
    algorithm: "MD5-sess",
    expected: {
      ha1: "3d78807defe7de2157e2b0b6573a855f",
      sessionHa1: "2b3d906f52651c3136e1502b3d6f38ee",
      ha2: "39aff3a2bab6126f332b942af96d3366",
      response: "e783283f46242139c486a698fec7211d",
      rspauth: "b9bdf5673282d64412df46ad40660539",
    },
  },
  {
    ...get,
    algorithm: "SHA-256-sess",
    expected: {
      ha1: "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232",
      sessionHa1: "bca21f4c7d7e8bf70d96361085370c7d219947abc1b8cd628f710917b89bed5b",
      ha2: "9a3fdae9a622fe8de177c24fa9c070f2b181ec85e15dcbdc32e10c82ad450b04",
      response: "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7",
      rspauth: "d4ad609d150eafce2281da5c3179878fdb37e6a16021272f4bed1a082f5c2324",
    },
  },
  {
    ...get,
    algorithm: "SHA-512-256",
    expected: {
      ha1: "fb174f5c3c7802721517cae13b98e2b8dae2e0118cb705d94ee29946319204ce",
      ha2: "c2cc924c647b13c41e0fb8825bdaa97d0a1f2a7afb15e1e03c994229b20e1c92",
      response: "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0",
      rspauth: "c8f9593a4f49b95ce2c483cc3222ecd360a5c6ec52ca24a530b0aac18478de8c",
    },
  },
  {
    ...get,
    algorithm: "SHA-512-256-sess",
    expected: {
      ha1: "fb174f5c3c7802721517cae13b98e2b8dae2e0118cb705d94ee29946319204ce",
      sessionHa1: "7bda9d6d426c30b563dd560a3fcddd2be830ed2f46019752dcf95ea629c4e570",
      ha2: "c2cc924c647b13c41e0fb8825bdaa97d0a1f2a7afb15e1e03c994229b20e1c92",
      response: "3f2a34f923c38b0fb26dce2fdfc2ce326c23cecf86fbb1444f3e51fbbc2cb92e",
      rspauth: "98012a4e63fae2aea13adaa3410368ef7278c87ca0acbd3c941ca5fe3dceeb86",
    },
  },
  {
    ...post,
    algorithm: "MD5",
    expected: {
      ha1: "3d78807defe7de2157e2b0b6573a855f",
      ha2: "55e5aed48def3a7c5ab67187dad5a03d",
      response: "71a0a24b362e88b0c0268b2f4a8bb17c",
      rspauth: "270af351fd8122be02b1c1d248c7a2f8",
    },
  },
  {
    ...post,
    algorithm: "SHA-256",
    expected: {
      ha1: "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232",
      ha2: "47d0bd8f1353c5c0d90a19e51d64f2a40ddca9d8b2d5244d71eb2725d2b4ed46",
      response: "0aa642f910151e999a98575ea16b4ed64a0cd7be2dad5428c87adbbad22dece3",
      rspauth: "efaeef04563f4728f4d25bf569b94f7e8706b51316df05f37f24bc1f949eebb4",
    },
  },
  {
    ...post,
    algorithm: "SHA-512-256",
    expected: {
      ha1: "fb174f5c3c7802721517cae13b98e2b8dae2e0118cb705d94ee29946319204ce",
      ha2: "3fe5e178e8abc433b233df2db5aefab9ec1c76aab72293638d75e10b35bee2d6",
      response: "83668be34e72201790c155620a56b2eff9c948d2931a40c1fce22f737669f236",
      rspauth: "9d8c865171ee4f88de00aabcb29bba0df0631cf70fb8e4bc20f4a79ea9f7c031",
    },
  },
  {
    ...postEmpty,
    algorithm: "MD5",
    expected: {
      ha1: "3d78807defe7de2157e2b0b6573a855f",
      ha2: "c62c363a4ced10f43eca47652feb4583",
      response: "8d604ace37effd5b9b24ee1ecf4ce5d1",
      rspauth: "1bb1457bdc012550d7a663670f76be07",
    },
  },
  {
    ...postEmpty,
    algorithm: "SHA-256",
    expected: {
      ha1: "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232",
      ha2: "dc28f849aa26e97ebeb79b78b9bbb98bd3c6957d0236e1ad0b3950b74654450b",
      response: "50c641245210ab8e66bacbf30da8c17440d31a5bc0ff7ff9aa82062e96df460f",
      rspauth: "33baf50c13eb08e46c38d21af0e1610e726dec44a4fd6f13c7d81981712a11da",
    },
  },
  {
    ...postEmpty,
    algorithm: "SHA-512-256",
    expected: {
      ha1: "fb174f5c3c7802721517cae13b98e2b8dae2e0118cb705d94ee29946319204ce",
      ha2: "e8ef7fb5447db4c2e552082f9d5030783bf51b3ccddf2cb36fb33baa29b74404",
      response: "4d94b2224add0f5834592ff87f546a4ac315539aa5e226d567bdf6b211fb71aa",
      rspauth: "6d0d7d1a0e79a435e9760615f83cd994a32d7fcba654ad29b329c7d68b79818b",
    },
  },
];
