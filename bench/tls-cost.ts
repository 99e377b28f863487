/**
 * Issue #10 (TLS serving and pinning): the two one-off costs of TLS in the
 * Node entries, for spec/decisions.md: making the self-signed development
 * certificate (first start of `npm start` / `cpns gateway serve`) and loading
 * the trusting fetch (undici) when a CLI run names a CA or a pin.
 * Run: npx tsx bench/tls-cost.ts
 */
import { generateSelfSignedCertificate } from "../src/channel/certificate.ts";

const runs = 10;
const started = performance.now();
for (let i = 0; i < runs; i++) {
  await generateSelfSignedCertificate({
    commonName: "m",
    hosts: ["127.0.0.1", "localhost", "::1"],
  });
}
const perCertificate = (performance.now() - started) / runs;
console.log(`generateSelfSignedCertificate: ${perCertificate.toFixed(1)} ms each over ${runs}`);
const importStarted = performance.now();
await import("../src/runtime/node-tls-trust.ts");
console.log(
  `import src/runtime/node-tls-trust.ts (undici): ${(performance.now() - importStarted).toFixed(0)} ms`,
);
