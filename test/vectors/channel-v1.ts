/**
 * Published vectors of the CPNS secure channel (spec/channel.md), version 1:
 * fixed inputs and the keys, IVs and records they must give. An independent
 * implementation checks itself against these; test/interop/channel_vectors.py
 * recomputes every value with Python's `cryptography` from spec/channel.md
 * alone. All byte values are lower-case hex.
 *
 * Implements: CHANNEL-VECTORS
 */
export const CHANNEL_V1_CONTEXT = {
  secretHex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
  nonce: "AAABk5nJ6wCqu8zd7v8AEQ3Gx4xQbF0U0xYn2oKvH7A",
  cnonce: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
  clientId: "pne-1",
  serverId: "cpns",
  sessionId: "q3NylKNJzvI22by-s7qgrA",
} as const;

export const CHANNEL_V1_PLACE = {
  sessionId: "q3NylKNJzvI22by-s7qgrA",
  method: "POST",
  path: "/cpns/v1/channels/q3NylKNJzvI22by-s7qgrA",
} as const;

/** §3: K[d,e] and IV[d,e]. */
export const CHANNEL_V1_KEYS = [
  {
    direction: "c2s",
    epoch: 0,
    key: "da7f490ce8bfdc88dd236649b9c286cf710877f08d86a0bbcdec42c3d7f750aa",
    iv: "b745f73ce5fdbab4d6440e00",
  },
  {
    direction: "c2s",
    epoch: 1,
    key: "6353db0292ac72907911e4b4c381506b2c5950b046e3a00228208977159ac7f8",
    iv: "f6bd9aa3a4aaac8256e1ca63",
  },
  {
    direction: "s2c",
    epoch: 0,
    key: "a81a585fbc2fc0b0d7db269af20669bab6f91cb9842898662a2d29893deec469",
    iv: "35f31b7e0adec6211cbe27c9",
  },
  {
    direction: "s2c",
    epoch: 1,
    key: "5348e210c2d21c7be0fdb1919dd1995416e1d14126d71ac3f9a370fb795db163",
    iv: "3481757936e5ee31fd8ca909",
  },
] as const;

/** §4: a request (GET /cpns/v1/whoami), its response (bound to it) and a close, all epoch 0. */
export const CHANNEL_V1_RECORDS = {
  request: {
    seq: 7,
    inner: { method: "GET", target: "/cpns/v1/whoami", headers: [["accept", "application/json"]] },
    plaintext:
      "0003474554000f2f63706e732f76312f77686f616d690001000661636365707400106170706c69636174696f6e2f6a736f6e",
    record:
      "0101000000000000000000000007986dfe4060deea95aa3e9220be7472df79961e4072dfad68324cb56e8826d3aa596378801cc6ce9808f98c63ab77065e9d48937e49e8d784e8b7e65673d37697cd0b",
  },
  response: {
    seq: 3,
    binding: { epoch: 0, seq: 7 },
    inner: {
      status: 200,
      headers: [["content-type", "application/json"]],
      body: '{"entityId":"pne-1","userId":"alice","type":"PNE","keyVersion":1}',
    },
    plaintext:
      "00c80001000c636f6e74656e742d7479706500106170706c69636174696f6e2f6a736f6e7b22656e746974794964223a22706e652d31222c22757365724964223a22616c696365222c2274797065223a22504e45222c226b657956657273696f6e223a317d",
    record:
      "01020000000000000000000000039e81109302e29264d913d8e89bc1307754cc7300159bf147d423a683a4a73e8306e5292dca0b67db7711a8b9edfaa7a0a796a70ecab41358029e7afac3f3306722043425657decee54701fc08e367b06ebfa865c59a05ca04cd6b849a2998f0ce88dff77c99d9478a5c74cbb5519aff5ba8b930350",
  },
  close: {
    seq: 8,
    record: "0103000000000000000000000008a843b78a0a9e9d554c189fcf63517064",
  },
} as const;
