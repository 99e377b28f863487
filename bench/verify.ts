/**
 * `npm run bench:verify`: the cost of Digest verification alone, in process,
 * with no HTTP around it (RFC 7616 §3.4, SHA-256, qop=auth, ledger on), next
 * to the cost of parsing the Authorization header, which is its largest part.
 * A companion to bench/digest.ts, which measures the whole request path.
 */
import { installHashBackend } from "../src/crypto/hash.ts";
import {
  ALGORITHMS,
  computeHa1,
  computeHa2,
  computeResponse,
  createDigestVerifier,
  MemoryReplayLedger,
  parseCredentials,
} from "../src/digest/index.ts";
import { nodeHashes } from "../src/runtime/node-hashes.ts";

installHashBackend(nodeHashes);
const algorithm = ALGORITHMS["SHA-256"];
const ha1 = computeHa1(algorithm, "bench", "bench", "bench-password");
const ha2 = computeHa2(algorithm, "GET", "/hello");
const verifier = createDigestVerifier({
  realm: "bench",
  secret: "bench-secret-0123456789abcdef",
  lookup: () => ({ ha1 }),
  algorithms: ["SHA-256"],
  qop: ["auth"],
  ledger: new MemoryReplayLedger(),
});
const challenge = verifier.challenges()[0] as string;
const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] as string;
const opaque = /opaque="([^"]+)"/.exec(challenge)?.[1] as string;

const N = 200_000;
const headers = Array.from({ length: N + 20_000 }, (_, i) => {
  const nc = (i + 1).toString(16).padStart(8, "0");
  const response = computeResponse(algorithm, {
    ha1,
    nonce,
    nc,
    cnonce: "0a4f113b",
    qop: "auth",
    ha2,
  });
  return `Digest username="bench", realm="bench", uri="/hello", algorithm=SHA-256, nonce="${nonce}", nc=${nc}, cnonce="0a4f113b", qop=auth, response="${response}", opaque="${opaque}"`;
});

async function time(label: string, count: number, task: (i: number) => unknown): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await task(i);
  console.log(
    `${label.padEnd(28)} ${(((performance.now() - started) * 1000) / count).toFixed(2)} µs`,
  );
}

let next = 0;
const verifyOne = async () => {
  const outcome = await verifier.verify({
    method: "GET",
    url: "http://127.0.0.1/hello",
    authorization: headers[next++] as string,
  });
  if (!outcome.ok) throw new Error(`verification failed: ${outcome.code}`);
  outcome.authenticationInfo();
};
await time("warm-up (not counted)", 20_000, verifyOne);
await time("parse Authorization", 100_000, (i) => parseCredentials(headers[i] as string));
await time("verify + Authentication-Info", N, verifyOne);
