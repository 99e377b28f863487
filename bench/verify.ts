/**
 * `npm run bench:verify`: the cost of Digest verification alone, in process,
 * with no HTTP around it (RFC 7616 §3.4, SHA-256, qop=auth, ledger on), next
 * to the cost of parsing the Authorization header, which is its largest part.
 * A companion to bench/digest.ts, which measures the whole request path.
 *
 * Next to it, the cost of the hashes a verification must compute, each with
 * the same backend (Node's OpenSSL, as the runtime entry installs): the HMAC
 * that checks the nonce, the response hash, the rspauth hash of
 * Authentication-Info, and H(A2) (cached per route by the verifier, so not
 * paid per request for qop=auth). The difference is the verifier's own work.
 *
 * Implements: DIGEST-PERF-RATIO
 */
import { hashHex, hmacSha256Sync, installHashBackend } from "../src/crypto/hash.ts";
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
const encoder = new TextEncoder();
const decoder = new TextDecoder();
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
  // Decoded from bytes, as a header read off the wire is: one flat string, not
  // the rope a template literal builds (the first scan of a rope flattens it,
  // which would be counted as parsing).
  return decoder.decode(
    encoder.encode(
      `Digest username="bench", realm="bench", uri="/hello", algorithm=SHA-256, nonce="${nonce}", nc=${nc}, cnonce="0a4f113b", qop=auth, response="${response}", opaque="${opaque}"`,
    ),
  );
});

/**
 * Wall time per operation, and beside it this process's CPU time (user +
 * system) per operation: on a shared machine the wall figure also counts the
 * time other processes held the core, the CPU figure does not.
 */
function report(label: string, count: number, wallMs: number, cpu: NodeJS.CpuUsage): number {
  const micros = (wallMs * 1000) / count;
  const cpuMicros = (cpu.user + cpu.system) / count;
  console.log(`${label.padEnd(44)} ${micros.toFixed(2)} µs  (CPU ${cpuMicros.toFixed(2)} µs)`);
  return micros;
}

async function time(label: string, count: number, task: (i: number) => unknown): Promise<number> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) await task(i);
  return report(label, count, performance.now() - started, process.cpuUsage(cpu));
}

/** Synchronous tasks timed without an await per iteration (the hashes are synchronous). */
function timeSync(label: string, count: number, task: (i: number) => unknown): number {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let sink = 0;
  for (let i = 0; i < count; i++) sink ^= (task(i) as string | Uint8Array).length;
  const wallMs = performance.now() - started;
  if (sink === -1) console.log(sink);
  return report(label, count, wallMs, process.cpuUsage(cpu));
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
console.log("hash backend: node (OpenSSL); SHA-256, qop=auth, ledger on");
await time("warm-up (not counted)", 20_000, verifyOne);
const parse = await time("parse Authorization", 100_000, (i) =>
  parseCredentials(headers[i] as string),
);
const verify = await time("verify + Authentication-Info", N, verifyOne);

// The hashes it must compute, on inputs of the real lengths.
const secret = new TextEncoder().encode("bench-secret-0123456789abcdef");
// The nonce MAC input: label, epoch, realm, issued-at and random (about 60 bytes).
const macInput = new Uint8Array(60).fill(7);
const responseInput = (i: number) =>
  `${ha1}:${nonce}:${(i + 1).toString(16).padStart(8, "0")}:0a4f113b:auth:${ha2}`;
const ROUNDS = 200_000;
timeSync("warm-up hashes (not counted)", ROUNDS, (i) => hashHex("SHA-256", responseInput(i)));
const hmac = timeSync("HMAC-SHA-256 of the nonce", ROUNDS, () => hmacSha256Sync(secret, macInput));
const response = timeSync("response hash H(HA1:nonce:nc:cnonce:qop:HA2)", ROUNDS, (i) =>
  hashHex("SHA-256", responseInput(i)),
);
const a2 = timeSync("H(A2) = H(GET:/hello) (cached per route)", ROUNDS, (i) =>
  hashHex("SHA-256", i & 1 ? "GET:/hello" : ":/hello"),
);
const must = hmac + 2 * response;
console.log(
  `\nhashes a verification must compute: nonce HMAC + response + rspauth = ${must.toFixed(2)} µs` +
    ` (${(2 * a2).toFixed(2)} µs more for the two H(A2) if they were not cached)`,
);
console.log(
  `verification ${verify.toFixed(2)} µs = ${must.toFixed(2)} µs of hashes (${((must / verify) * 100).toFixed(0)} %)` +
    ` + ${(verify - must).toFixed(2)} µs of the verifier's own work, of which parsing ${parse.toFixed(2)} µs`,
);
