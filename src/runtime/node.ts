/**
 * `npm start`: the CPNS Server on Node with embedded storage (unstorage's fs
 * driver under the data folder), Node's OpenSSL hashes for Digest, security
 * events appended to <data>/security.log, and the client address taken from
 * the socket for rate limiting. Prints the URL, where the admin token is, and
 * the pin of the admin transport key (issue #9 item 6), which it also keeps in
 * <data>/admin-key.pin for a CLI on this machine.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import { installHashBackend } from "../crypto/hash.ts";
import { importAdminTransportKey } from "../protocol/admin-transport.ts";
import { createServerApp } from "../server/app.ts";
import { nodeServerSettings } from "./node-config.ts";
import { nodeHashes } from "./node-hashes.ts";
import { serveNode } from "./node-server.ts";

installHashBackend(nodeHashes);

const settings = nodeServerSettings();
const port = Number(process.env.PORT ?? 8787);
const hostname = process.env.HOST ?? "127.0.0.1";
const { pin } = await importAdminTransportKey(settings.adminTransportKey);
// Public, but only this process may say which key is ours: rewritten at every start.
writeFileSync(settings.adminKeyPinFile, `${pin}\n`, { mode: 0o600 });

const app = createServerApp({
  realm: settings.realm,
  storage: createStorage({ driver: fsDriver({ base: join(settings.dataDir, "store") }) }),
  masterKey: settings.masterKey,
  adminToken: settings.adminToken,
  digestSecret: settings.digestSecret,
  adminTransportKey: settings.adminTransportKey,
  securityLog: (line) => appendFileSync(settings.securityLogFile, `${line}\n`, { mode: 0o600 }),
  clientAddress: (_request, env) =>
    (env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress,
});

const server = serveNode({ fetch: app.fetch, port, hostname }, (info) => {
  console.log(
    `CPNS Server listening on http://${hostname}:${info.port} (realm "${settings.realm}")`,
  );
  console.log(`data: ${settings.dataDir}`);
  if (settings.adminTokenFile) console.log(`admin token: ${settings.adminTokenFile}`);
  console.log(`admin key pin: ${pin} (${settings.adminKeyPinFile})`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
