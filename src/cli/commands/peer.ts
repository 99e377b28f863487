/**
 * `cpns otk inbox` and `cpns peer connect` (seed 5.x.2, second bullet;
 * SEED-5.x.2-4, PEER-DIGEST, PEER-SESSION, GATEWAY-RELAY): the peer's side of
 * the one-time keys. The entity lists the OTKs a PN GW deposited for it at the
 * CPNS Server (ids, issuer, expiry, endpoint; never a key), fetches one (it
 * arrives sealed under its own EUKey and is delivered once), and with it opens
 * a peer session with the PN GW: Digest both ways over the OTK, the PN GW's
 * rspauth required (src/agent/peer.ts). Over the session it sends a message
 * the PN GW echoes and, with --via-gateway whoami, reaches the server through
 * the PN GW's relay with its own EUKey, end to end; then it closes the session.
 * Every request to the server is an EntityAgent Digest exchange with rspauth
 * required, as for `cpns whoami`.
 *
 * Seed 5.x.4 (issue #10, PEERCH-CLI): by default both run in the CPNS secure
 * channel: the message inside a channel with the PN GW opened under the peer
 * session (src/agent/peer-channel.ts), and the relayed request inside a
 * channel with the CPNS Server (src/agent/channel-client.ts) whose records the
 * PN GW only carries, so it sees ciphertext (GATEWAY-RELAY-E2E). `--plain`
 * sends both under Digest alone: authenticated, but readable on the path and
 * by the PN GW; it says so in its output.
 *
 * Implements: CLI-FLOWS
 * Implements: PEERCH-CLI, GATEWAY-RELAY-E2E
 * Implements: TLS-IMPOSTOR, TLS-GATEWAY-PIN, OTK-TLS-PIN
 */
import { type Command, Option } from "commander";
import { AgentError, EntityAgent } from "../../agent/agent.ts";
import { ServerChannel } from "../../agent/channel-client.ts";
import { OtkClient, type ReceivedOtk } from "../../agent/otk-client.ts";
import { PeerSession } from "../../agent/peer.ts";
import { digestExchangeOf, type FetchLike, proxyExchangeOf } from "../../digest/index.ts";
import { CpnsError, errorCodeOf } from "../../errors.ts";
import type { OtkView } from "../../protocol/schemas.ts";
import { type CliContext, print, table } from "../context.ts";
import { type Device, openDevice } from "../device.ts";
import { CliError, usageError } from "../errors.ts";
import { problemOf } from "../http.ts";
import { checkId, type GlobalOptions } from "../settings.ts";

/**
 * A refusal, in the terms of the step that met it. A 401 from the CPNS Server
 * means it refused the entity's EUKey; one from the PN GW, the OTK or session.
 */
export function explainRefusal(
  err: unknown,
  device: Device,
  step: string,
  from: "server" | "gateway" = "server",
  hint = "",
): unknown {
  if (err instanceof AgentError && err.code === "ERR_DIGEST_UNAUTHORIZED" && from === "server") {
    return new CliError(
      err.code,
      `${step}: ${device.base} refused key version ${device.record.keyVersion} of ${device.entityId} (rotated elsewhere or revoked)${hint}`,
    );
  }
  const code = err instanceof AgentError || err instanceof CliError ? err.code : errorCodeOf(err);
  if (code !== undefined) {
    const exitCode = err instanceof CliError ? err.exitCode : 1;
    return new CliError(code, `${step}: ${(err as Error).message}${hint}`, exitCode);
  }
  return err;
}

/** An http: or https: URL given by an option, without its trailing slashes. */
export function checkHttpUrl(option: string, value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw usageError(`${option}: not a URL: ${value}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw usageError(`${option} must be an http: or https: URL, got ${value}`);
  }
  return value.replace(/\/+$/, "");
}

/** Epoch seconds as an ISO 8601 time. */
export function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}

/**
 * Issue #10 (OTK-TLS-PIN): the PN GW's TLS key came sealed with the OTK, so the
 * connection to it is pinned to exactly that key (checked on the handshake,
 * before any Digest exchange); an OTK without a pin (a plain-HTTP development
 * PN GW) leaves the default transport.
 */
function gatewayFetch(
  ctx: CliContext,
  received: ReceivedOtk,
  gatewayUrl: string,
): FetchLike | undefined {
  const pin = received.view.tlsPin;
  if (!pin) return ctx.fetch;
  if (new URL(gatewayUrl).protocol !== "https:") {
    received.otk.fill(0);
    throw new CliError(
      "ERR_TLS_UNTRUSTED",
      `the OTK names a TLS key for ${received.view.issuerId}, but ${gatewayUrl} is not https; refusing to talk to it in clear`,
    );
  }
  if (ctx.fetch) return ctx.fetch;
  if (!ctx.trustedFetch) {
    throw new CliError("ERR_CONFIG", "this runtime cannot pin a PN GW's TLS key");
  }
  return ctx.trustedFetch({ pin });
}

/** fetch towards the PN GW, with "cannot connect" turned into an error naming it. */
function gatewayTransport(gatewayUrl: string, inner?: FetchLike): FetchLike {
  return async (request) => {
    try {
      return await (inner ?? ((r: Request) => fetch(r)))(request);
    } catch (err) {
      if (errorCodeOf(err) || err instanceof CliError) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CliError(
        "ERR_GATEWAY_UNREACHABLE",
        `cannot reach the PN GW at ${gatewayUrl}: ${reason}`,
      );
    }
  };
}

/** OTK ids are base64url (src/protocol/schemas.ts); checked here so a typo is not sent. */
const OTK_ID = /^[A-Za-z0-9_-]{22,64}$/;

interface EntityOptions extends GlobalOptions {
  entity: string;
}

async function inbox(ctx: CliContext, options: EntityOptions): Promise<void> {
  const device = await openDevice(ctx, options, checkId("Entity ID", options.entity));
  const otks = new OtkClient({ agent: device.agent, store: device.store });
  let waiting: OtkView[];
  try {
    waiting = await otks.inbox(device.entityId);
  } catch (err) {
    throw explainRefusal(err, device, `otk inbox ${device.entityId}`);
  }
  const human =
    waiting.length === 0
      ? `no OTK waiting for ${device.entityId} at ${device.base}`
      : table(
          ["OTK", "ISSUER", "EXPIRES", "ENDPOINT"],
          waiting.map((o) => [o.otkId, o.issuerId, isoTime(o.expiresAt), o.endpoint ?? "-"]),
        );
  print(ctx, options, human, { entityId: device.entityId, otks: waiting });
}

interface ConnectOptions extends EntityOptions {
  otk?: string;
  gateway?: string;
  message?: string;
  viaGateway?: "whoami";
  plain?: boolean;
}

/** The OTK to use: the one named, else the newest waiting (latest expiry, then latest deposit). */
function choose(waiting: OtkView[], otkId: string | undefined): OtkView | undefined {
  if (otkId) return waiting.find((o) => o.otkId === otkId);
  let newest: OtkView | undefined;
  for (const view of waiting) if (!newest || view.expiresAt >= newest.expiresAt) newest = view;
  return newest;
}

/**
 * The PN GW's address as deposited with the OTK. It came from another device
 * through the server: anything but an http(s) URL is not followed.
 */
function depositedAddress(view: OtkView): string {
  const refuse = (why: string) =>
    new CliError(
      "ERR_NO_GATEWAY_ADDRESS",
      `${view.issuerId} deposited OTK ${view.otkId} ${why}; pass --gateway <url>`,
    );
  if (!view.endpoint) throw refuse("without its address");
  let url: URL;
  try {
    url = new URL(view.endpoint);
  } catch {
    throw refuse("with an address that is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw refuse("with an address that is not http: or https:");
  }
  return view.endpoint.replace(/\/+$/, "");
}

async function connect(ctx: CliContext, options: ConnectOptions): Promise<void> {
  const entityId = checkId("Entity ID", options.entity);
  const flagUrl = options.gateway ? checkHttpUrl("--gateway", options.gateway) : undefined;
  if (options.otk !== undefined && !OTK_ID.test(options.otk)) {
    throw usageError(`--otk: not an OTK id (22-64 base64url characters): ${options.otk}`);
  }
  const device = await openDevice(ctx, options, entityId);
  const otks = new OtkClient({ agent: device.agent, store: device.store });

  let waiting: OtkView[];
  try {
    waiting = await otks.inbox(entityId);
  } catch (err) {
    throw explainRefusal(err, device, `otk inbox ${entityId}`);
  }
  const chosen = choose(waiting, options.otk);
  if (!chosen && !options.otk) {
    throw new CliError(
      "ERR_NO_OTK",
      `no OTK waiting for ${entityId} at ${device.base} (each OTK opens one session, and an offer expires unused after its lifetime); ask the PN GW for one: type "offer ${entityId}" in the terminal of its running cpns gateway serve, or start it with --offer ${entityId}`,
    );
  }
  // Decided before the fetch: an OTK is delivered once, and one fetched for
  // nowhere to go would be spent for nothing.
  if (chosen && !flagUrl) depositedAddress(chosen);
  // A named OTK not in the inbox is still asked for: the server says why it is not there.
  const otkId = chosen?.otkId ?? options.otk ?? "";
  let received: ReceivedOtk;
  try {
    received = await otks.fetch(entityId, otkId);
  } catch (err) {
    throw explainRefusal(err, device, `fetch OTK ${otkId}`);
  }
  let gatewayUrl: string;
  try {
    gatewayUrl = flagUrl ?? depositedAddress(received.view);
  } catch (err) {
    received.otk.fill(0);
    throw err;
  }
  const gatewayId = received.view.issuerId;

  const session = await PeerSession.open({
    entityId,
    received,
    gatewayUrl,
    fetch: gatewayTransport(gatewayUrl, gatewayFetch(ctx, received, gatewayUrl)),
  }).catch((err) => {
    throw explainRefusal(
      err,
      device,
      `open a peer session with ${gatewayId} at ${gatewayUrl}`,
      "gateway",
      `; OTK ${otkId} is spent, ask ${gatewayId} for a new one`,
    );
  });
  const sessionId = session.sessionId ?? "";
  const expiresAt = session.expiresAt ?? 0;
  const human = [
    `fetched OTK ${otkId} from ${gatewayId} (sealed under ${entityId}'s EUKey, delivered once)`,
    `peer session ${sessionId} open with PN GW ${gatewayId} at ${gatewayUrl}: mutual Digest over the OTK, rspauth verified; expires ${isoTime(expiresAt)}`,
  ];
  const data: Record<string, unknown> = {
    entityId,
    otkId,
    gatewayId,
    gatewayUrl,
    sessionId,
    expiresAt,
  };

  let step = `peer session ${sessionId} with ${gatewayId}`;
  let from: "server" | "gateway" = "gateway";
  data.secure = options.plain ? "plain" : "channel";
  try {
    if (options.message !== undefined && options.plain) {
      const answer = await session.send(options.message);
      human.push(
        `echo from ${gatewayId} (--plain: Digest only, the message crossed the path readable): ${answer.echo}`,
      );
      data.echo = answer.echo;
    } else if (options.message !== undefined) {
      step = `secure channel with ${gatewayId} under peer session ${sessionId}`;
      const channel = await session.openChannel();
      human.push(
        `secure channel ${channel.sessionId} open with ${gatewayId} under the peer session (keys from the session secret and this exchange's nonces, rspauth verified)`,
      );
      const answer = await channel.send(options.message);
      await channel.close();
      human.push(`echo from ${gatewayId} over the secure channel: ${answer.echo}`);
      data.echo = answer.echo;
    }
    if (options.viaGateway === "whoami") {
      step = `whoami ${entityId} via ${gatewayId}'s relay`;
      from = "server";
      const relayed = new EntityAgent({
        serverUrl: device.base,
        store: device.store,
        fetch: session.relayTransport(),
      });
      let whoami: Record<string, unknown>;
      let realm: string;
      if (options.plain) {
        const res = await relayed.fetchAsEntity(entityId, "/cpns/v1/whoami");
        // Two proofs: the server's rspauth over the EUKey (end to end), and the
        // PN GW's over the session secret (the relay hop).
        const endToEnd = digestExchangeOf(res);
        if (!endToEnd || !proxyExchangeOf(res)) {
          await res.body?.cancel();
          throw new CpnsError(
            "ERR_DIGEST_SERVER_UNAUTHENTICATED",
            "the answer was not authenticated",
          );
        }
        if (!res.ok) throw await problemOf(res);
        whoami = (await res.json()) as Record<string, unknown>;
        realm = endToEnd.realm;
        human.push(
          `whoami through ${gatewayId}'s relay (--plain: end to end with ${entityId}'s EUKey, realm "${realm}", rspauth verified; the PN GW could read it):`,
        );
      } else {
        // The channel's records cross the relay byte for byte: the PN GW carries ciphertext.
        const channel = await ServerChannel.open({
          agent: relayed,
          store: device.store,
          entityId,
          serverUrl: device.base,
          fetch: session.relayTransport(),
        });
        const res = await channel.fetch("/cpns/v1/whoami");
        if (!res.ok) throw await problemOf(res);
        whoami = (await res.json()) as Record<string, unknown>;
        await channel.close();
        realm = channel.serverId;
        human.push(
          `whoami through ${gatewayId}'s relay on a secure channel with the CPNS Server (end to end with ${entityId}'s EUKey, realm "${realm}"; the PN GW carried ciphertext only):`,
        );
      }
      human.push(JSON.stringify(whoami, null, 2));
      data.viaGateway = { whoami, realm };
    }
  } catch (err) {
    // The failure is what the user needs to see; closing is only tidying up.
    await session.close().catch(() => undefined);
    throw explainRefusal(err, device, step, from);
  }
  await session.close();
  human.push(`peer session ${sessionId} closed`);
  data.closed = true;
  print(ctx, options, human, data);
}

export function registerPeerCommands(program: Command, ctx: CliContext): void {
  const otk = program
    .command("otk")
    .description("one-time keys (OTKs) a PN GW deposited at the CPNS Server for this entity");
  otk
    .command("inbox")
    .description("list the OTKs waiting for an entity (ids, issuer, expiry, endpoint; no keys)")
    .requiredOption("--entity <entityId>", "the Entity ID whose key this device holds")
    .action((_options: unknown, command: Command) =>
      inbox(ctx, command.optsWithGlobals<EntityOptions>()),
    );

  const peer = program
    .command("peer")
    .description("peer sessions with a PN GW, authenticated both ways with an OTK");
  peer
    .command("connect")
    .description(
      "fetch an OTK, open a peer session with the PN GW that made it (its rspauth required), talk, close",
    )
    .requiredOption("--entity <entityId>", "the Entity ID whose key this device holds")
    .option("--otk <otkId>", "the OTK to use (default: the newest waiting)")
    .option("--gateway <url>", "where the PN GW listens (default: the endpoint sent with the OTK)")
    .option("--message <text>", "a message for the PN GW to echo over the session")
    .option(
      "--plain",
      "WEAKER: send the message and the relayed request under Digest alone, readable on the path and by the PN GW (default: the CPNS secure channel)",
    )
    .addOption(
      new Option(
        "--via-gateway <request>",
        "also ask the CPNS Server through the PN GW's relay, end to end with this entity's EUKey",
      ).choices(["whoami"]),
    )
    .action((_options: unknown, command: Command) =>
      connect(ctx, command.optsWithGlobals<ConnectOptions>()),
    );
}
