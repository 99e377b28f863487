/**
 * Issue #11 ("The PN GW app runs on the same targets it can: Node and Deno at
 * least"): the PN GW (src/gateway/gateway.ts, seed 5.x.2 second bullet) served
 * by Deno.serve. The app is the same web-standard one `cpns gateway serve`
 * serves on Node; only this file touches Deno.
 *
 * The gateway's EUKey comes from the device key store the CLI writes (`cpns
 * enroll --type PNGW`): the folder CPNS_KEYSTORE (default ./.cpns-device), one
 * file per entity named base64url(Entity ID).json, and, as on Node, a folder or
 * file that others may read is refused. Not from an environment variable: a
 * key in the environment shows in /proc/<pid>/environ and in crash reports.
 * The file is only read (no --allow-write): what the agent learns while
 * running (a key refused after a rotation elsewhere) is kept in memory.
 *
 *   deno run --allow-net --allow-env --allow-read src/runtime/deno-gateway.ts
 *   (npm run start:deno-gateway)
 *
 * Environment: CPNS_GATEWAY_ID (required: the PN GW's Entity ID), CPNS_KEYSTORE,
 * CPNS_SERVER (default: the server the entity enrolled with), PORT (default
 * 8788; 0 lets the kernel pick), HOST (default 127.0.0.1), CPNS_GATEWAY_ENDPOINT
 * (the URL peers are told, default http://HOST:PORT). Plain HTTP: peers protect
 * their traffic with the CPNS secure channel (seed 5.x.4); TLS on Deno would
 * also need the certificate's SPKI pin sealed with each OTK, as on Node.
 *
 * Standard output: one JSON line per event, {"listening": url} once, then one
 * answer per command. Standard input: one command per line, as `cpns gateway
 * serve` takes them: `offer <peerId>` (deposit an OTK for the peer) and
 * `states` (every offer and session with its machine state, no key material).
 *
 * Implements: FLEET-SHELL-DENO-GW
 */
import { EntityAgent } from "../agent/agent.ts";
import { type DeviceRecord, MemoryKeyStore } from "../agent/keystore.ts";
import { toBase64url, utf8 } from "../crypto/bytes.ts";
import { PnGateway } from "../gateway/gateway.ts";

/** The slice of the Deno namespace used here (Deno's types are not in our TS lib). */
declare const Deno: {
  env: { get(name: string): string | undefined };
  cwd(): string;
  readTextFileSync(path: string): string;
  statSync(path: string): { mode: number | null; isDirectory: boolean; isFile: boolean };
  build: { os: string };
  stdin: { readable: ReadableStream<Uint8Array> };
  exit(code: number): never;
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void> };
};

function fail(message: string): never {
  console.error(`cpns-gw (deno): ${message}`);
  Deno.exit(1);
}

function say(value: unknown): void {
  console.log(JSON.stringify(value));
}

/** Like src/runtime/node-keystore.ts: owner-only folder and file, else refused (POSIX only). */
function ownerOnly(path: string, what: string): void {
  if (Deno.build.os === "windows") return;
  const { mode } = Deno.statSync(path);
  if (mode !== null && (mode & 0o077) !== 0) {
    fail(`the key store ${what} ${path} may be read by others (chmod go-rwx)`);
  }
}

/** The record `cpns enroll` wrote for `entityId`, checked as the Node key store checks it. */
function readRecord(dir: string, entityId: string): DeviceRecord {
  const file = `${dir}/${toBase64url(utf8(entityId))}.json`;
  let text: string;
  try {
    ownerOnly(dir, "folder");
    text = Deno.readTextFileSync(file);
    ownerOnly(file, "file");
  } catch (err) {
    fail(`cannot read ${file}: ${(err as Error).name}; enroll first: cpns enroll --type PNGW`);
  }
  let record: Partial<DeviceRecord>;
  try {
    record = JSON.parse(text) as Partial<DeviceRecord>;
  } catch {
    fail(`key file ${file} is damaged`);
  }
  if (
    record.entityId !== entityId ||
    record.type !== "PNGW" ||
    typeof record.eukey !== "string" ||
    record.eukey === "" ||
    typeof record.serverUrl !== "string" ||
    typeof record.keyVersion !== "number" ||
    typeof record.userId !== "string" ||
    typeof record.machine?.value !== "string"
  ) {
    // Never print the record: it holds the EUKey.
    fail(`key file ${file} holds no EUKey of a PN GW named ${entityId}`);
  }
  return record as DeviceRecord;
}

const gatewayId = Deno.env.get("CPNS_GATEWAY_ID") ?? fail("set CPNS_GATEWAY_ID");
const keystore = Deno.env.get("CPNS_KEYSTORE") || ".cpns-device";
const dir = keystore.startsWith("/") ? keystore : `${Deno.cwd()}/${keystore}`;
const record = readRecord(dir, gatewayId);
const serverUrl = (Deno.env.get("CPNS_SERVER") || record.serverUrl).replace(/\/+$/, "");
const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
const port = Number(Deno.env.get("PORT") ?? 8788);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail("PORT must be 0-65535");

const store = new MemoryKeyStore();
await store.put(record);
const agent = new EntityAgent({ serverUrl, store });

let gateway: PnGateway | undefined;
const bound = await new Promise<number>((resolve) => {
  Deno.serve({ port, hostname, onListen: (addr) => resolve(addr.port) }, (request) =>
    gateway ? gateway.app.fetch(request) : new Response(null, { status: 503 }),
  );
});
const host = hostname.includes(":") ? `[${hostname}]` : hostname;
const endpoint = Deno.env.get("CPNS_GATEWAY_ENDPOINT") || `http://${host}:${bound}`;
gateway = new PnGateway({ gatewayId, serverUrl, agent, store, endpoint });
say({ listening: `http://${host}:${bound}`, gatewayId, endpoint, serverUrl });

async function command(line: string): Promise<void> {
  const [verb, ...rest] = line.split(/\s+/);
  if (!verb || !gateway) return;
  if (verb === "states") return say({ states: gateway.states() });
  if (verb === "offer" && rest.length === 1 && rest[0]) {
    try {
      say({ offer: await gateway.offer(rest[0]) });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      say({ error: { code: typeof code === "string" ? code : "ERR_INTERNAL", command: "offer" } });
    }
    return;
  }
  say({ error: { code: "ERR_USAGE", message: "commands: offer <peerId> | states" } });
}

let pending = "";
const decoder = new TextDecoder();
const input = Deno.stdin.readable.getReader();
for (let read = await input.read(); !read.done; read = await input.read()) {
  pending += decoder.decode(read.value, { stream: true });
  for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
    const line = pending.slice(0, end).trim();
    pending = pending.slice(end + 1);
    await command(line);
  }
}
// Standard input closed: keep serving (a service manager gives no input).
