import { parseCredentials } from "../src/digest/params.ts";

const H = `Digest username="bench", realm="bench", uri="/hello", algorithm=SHA-256, nonce="AAABoiSBKsjkUCgYLfL6cb9KZmp9Vr2k1Q2Vo4AqK0Q", nc=00000001, cnonce="0a4f113b", qop=auth, response="fc313c3617892ea8c4637951dccace1933c63f82ceea8ad7d877bd042e5111fe", opaque="vZyvRQpkjZiZV_7B"`;
const hs = Array.from({ length: 100000 }, (_, i) =>
  H.replace("00000001", i.toString(16).padStart(8, "0")),
);
for (let r = 0; r < 3; r++) {
  const t = performance.now();
  for (const h of hs) parseCredentials(h);
  console.log("parse", (((performance.now() - t) * 1000) / hs.length).toFixed(2), "µs");
}
