/**
 * The CPNS story suite (story.ts) against the CPNS Server as a Cloudflare
 * Worker (issue #11): the production entry and bindings of wrangler.toml under
 * a real `wrangler dev` (workerd, SQLite-backed Durable Objects on disk).
 */
import { startWorkerServer } from "../workers/start.ts";
import { cpnsStorySuite } from "./story.ts";

cpnsStorySuite("Cloudflare Workers (wrangler dev, Durable Objects)", async () => {
  const server = await startWorkerServer();
  return { baseUrl: server.baseUrl, adminToken: server.adminToken, close: () => server.close() };
});
