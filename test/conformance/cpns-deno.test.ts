/**
 * The CPNS story suite (story.ts) against the CPNS Server on Deno with Deno KV
 * (issue #11): a real `deno run --unstable-kv src/runtime/deno.ts` on a fresh
 * local KV file, plain HTTP on loopback.
 */

import { startDenoServer } from "./deno-server.ts";
import { cpnsStorySuite } from "./story.ts";

cpnsStorySuite("Deno (Deno.serve, Deno KV)", async () => {
  const server = await startDenoServer();
  return { baseUrl: server.baseUrl, adminToken: server.adminToken, close: () => server.close() };
});
