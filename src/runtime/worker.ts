/**
 * Cloudflare Workers entry point of the CPNS Server (issue #11, wrangler.toml):
 * the handler of worker-app.ts and the SQLite-backed Durable Object class its
 * records and coordination live in (worker-store.ts). Kept this small so the
 * handler can be loaded by Node tests, where "cloudflare:workers" does not
 * exist.
 *
 * Implements: FLEET-WORKERS-ENTRY
 */
import { handleRequest } from "./worker-app.ts";

export { CpnsStore } from "./worker-store.ts";

export default {
  fetch: handleRequest,
};
