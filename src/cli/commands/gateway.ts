/**
 * `cpns gateway serve` (seed 5.x.2, second bullet; SEED-5.x.2-4, PEER-SESSION,
 * GATEWAY-RELAY): this device's PN GW, with its EUKey from the device key
 * store, served over HTTP (src/gateway/gateway.ts; base path /cpns-gw/v1 and
 * the relay under /cpns/v1). At start it creates one OTK per --offer and
 * deposits it at the CPNS Server for that peer, sealed under its own EUKey
 * (the PN GW creates the OTK, the server shares it); it prints one line per
 * offer (peer, OTK id, expiry; never the OTK), the address it listens on, and
 * then each session as it opens, closes or expires, until SIGINT or SIGTERM.
 * An offer whose OTK expires unused is said so, and `offer <peerId>` typed on
 * its standard input offers again while it runs (issue #13 item 4).
 * With --json every line is one JSON object (the command runs for long, so
 * its events are printed as they happen).
 *
 * The HTTP serving itself is the runtime's (CliContext.serve), and the PN GW
 * code is loaded only here: Hono and zod would slow every other command's start.
 *
 * Issue #10 (TLS-GATEWAY, OTK-TLS-PIN): HTTPS by default, with --tls-cert /
 * --tls-key or a self-signed certificate kept in <key store>/tls-<gatewayId>/;
 * its pin is printed and sealed with every OTK, so the peer pins this PN GW's
 * key. --plain-http (or CPNS_PLAIN_HTTP=1) is the development mode without
 * TLS: the OTKs then carry no pin. The relay reaches the CPNS Server with the
 * CLI's own server trust (--cacert / --pin).
 *
 * Implements: CLI-FLOWS
 * Implements: TLS-GATEWAY, TLS-GATEWAY-PIN, OTK-TLS-PIN
 * Implements: FIRSTRUN-REOFFER
 */
import { type Command, InvalidArgumentError } from "commander";
import type { OfferResult } from "../../gateway/gateway.ts";
import type { GatewaySessionState } from "../../gateway/sessions.ts";
import { type CliContext, cliJson } from "../context.ts";
import { openDevice } from "../device.ts";
import { CliError, describeError, formatFailure, redact, usageError } from "../errors.ts";
import { serverFetch } from "../http.ts";
import { checkId, type GlobalOptions, plainHttpRequested } from "../settings.ts";
import { checkHttpUrl, explainRefusal, isoTime } from "./peer.ts";

export const DEFAULT_LISTEN = "127.0.0.1:8788";

interface ServeOptions extends GlobalOptions {
  entity: string;
  listen: string;
  offer?: string[];
  endpoint?: string;
  otkLifetime?: number;
  sessionLifetime?: number;
  tlsCert?: string;
  tlsKey?: string;
  plainHttp?: boolean;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("a whole number of seconds, at least 1");
  }
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** host:port, [v6]:port, :port or port (the host defaults to 127.0.0.1; port 0: any free one). */
export function parseListen(value: string): { hostname: string; port: number } {
  const match = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw usageError(`--listen: use host:port (e.g. ${DEFAULT_LISTEN}), got ${value}`);
  }
  return { hostname: match[1] ?? (match[2] || "127.0.0.1"), port };
}

const WILDCARD = new Set(["0.0.0.0", "::", "[::]"]);

async function serve(ctx: CliContext, options: ServeOptions): Promise<void> {
  const gatewayId = checkId("Entity ID", options.entity);
  // A second offer to the same peer would replace the first: one each.
  const peers = [...new Set((options.offer ?? []).map((peerId) => checkId("Entity ID", peerId)))];
  const listen = parseListen(options.listen);
  const endpointFlag = options.endpoint ? checkHttpUrl("--endpoint", options.endpoint) : undefined;
  if (WILDCARD.has(listen.hostname) && !endpointFlag) {
    throw usageError(
      `listening on ${listen.hostname}: pass --endpoint <url>, the address peers should use`,
    );
  }
  if (!ctx.serve) throw new CliError("ERR_CONFIG", "this runtime cannot serve HTTP");
  const plain = options.plainHttp === true || plainHttpRequested(ctx.env);
  if (plain && (options.tlsCert || options.tlsKey)) {
    throw usageError("--plain-http and --tls-cert/--tls-key exclude each other");
  }
  if (!plain && endpointFlag && new URL(endpointFlag).protocol !== "https:") {
    throw usageError(`--endpoint: this PN GW serves https, got ${endpointFlag}`);
  }
  const device = await openDevice(ctx, options, gatewayId);
  if (device.record.type !== "PNGW") {
    throw new CliError(
      "ERR_FORBIDDEN",
      `${gatewayId} is a ${device.record.type}: only a PN GW creates OTKs and serves peers`,
    );
  }

  const emit = (human: string, data: Record<string, unknown>) =>
    ctx.stdout(redact(options.json ? `${cliJson(data)}\n` : `${human}\n`));

  const { PnGateway } = await import("../../gateway/gateway.ts");
  let gateway: InstanceType<typeof PnGateway> | undefined;
  /** Each offer's last state seen, to print what changed after every request. */
  const seen = new Map<string, string>();
  const report = () => {
    for (const state of gateway?.states() ?? []) {
      // Offers are printed when made; from here on, only what peers change.
      if (state.state === "created" || state.state === "offered") continue;
      if (seen.get(state.otkId) === state.state) continue;
      seen.set(state.otkId, state.state);
      emitState(state);
    }
  };
  const emitState = (state: GatewaySessionState) => {
    const { peerId, sessionId, otkId } = state;
    const human =
      state.state === "open"
        ? `peer session ${sessionId} open with ${peerId} (${state.peerType}): it proved OTK ${otkId}, the server consumed it; expires ${isoTime(state.sessionExpiresAt ?? 0)}`
        : sessionId
          ? `peer session ${sessionId} with ${peerId}: ${state.state}`
          : `OTK ${otkId} for ${peerId}: ${state.state}`;
    emit(human, { event: "session", ...state });
  };

  // The names peers may use for this PN GW: the listen host, loopback, and the --endpoint host.
  const hosts = [listen.hostname, "localhost", "127.0.0.1", "::1"];
  if (endpointFlag) hosts.push(new URL(endpointFlag).hostname.replace(/^\[(.*)\]$/, "$1"));
  const serving = await ctx.serve({
    ...listen,
    ...(plain
      ? {}
      : {
          tls: {
            // Beside the key store; "/" is a separator on every platform Node runs on.
            folder: `${device.store.dir}/tls-${gatewayId}`,
            commonName: `PN GW ${gatewayId}`,
            hosts: [...new Set(hosts.filter((h) => !WILDCARD.has(h)))],
            ...(options.tlsCert ? { certFile: options.tlsCert } : {}),
            ...(options.tlsKey ? { keyFile: options.tlsKey } : {}),
          },
        }),
    fetch: async (request) => {
      // Nothing is served before the gateway exists (a few milliseconds at start).
      if (!gateway) return new Response(null, { status: 503 });
      const res = await gateway.app.fetch(request);
      report();
      return res;
    },
  });
  let signal: string;
  let commands: { close(): void } | undefined;
  const expiryTimers = new Set<ReturnType<typeof setTimeout>>();
  try {
    gateway = new PnGateway({
      gatewayId,
      serverUrl: device.base,
      agent: device.agent,
      store: device.store,
      endpoint: endpointFlag ?? serving.url,
      ...(serving.certificate ? { tlsPin: serving.certificate.pin } : {}),
      ...(options.otkLifetime ? { otkLifetimeSeconds: options.otkLifetime } : {}),
      ...(options.sessionLifetime ? { sessionLifetimeSeconds: options.sessionLifetime } : {}),
      // The relay trusts the CPNS Server as this CLI does (--cacert / --pin / tls.pin).
      ...((upstream) => (upstream ? { upstream } : {}))(serverFetch(ctx, options, device.base)),
    });
    const live = gateway;
    /** One offer, said when made and again if its OTK expires unused (issue #13 item 4). */
    const offer = async (peerId: string): Promise<void> => {
      let made: OfferResult;
      try {
        made = await live.offer(peerId);
      } catch (err) {
        throw explainRefusal(err, device, `offer an OTK to ${peerId}`);
      }
      emit(
        `offered an OTK to ${made.peerId} (${made.peerType}): otk ${made.otkId}, expires ${isoTime(made.expiresAt)}`,
        { event: "offer", ...made },
      );
      const untilExpiry = Math.max(0, made.expiresAt * 1000 - Date.now()) + 1000;
      const timer = setTimeout(() => {
        expiryTimers.delete(timer);
        const state = live.states().find((s) => s.otkId === made.otkId)?.state;
        if (state !== "created" && state !== "offered") return;
        emit(
          `OTK ${made.otkId} for ${made.peerId} expired unused at ${isoTime(made.expiresAt)}; type "offer ${made.peerId}" here to offer another`,
          {
            event: "offer-expired",
            otkId: made.otkId,
            peerId: made.peerId,
            expiresAt: made.expiresAt,
          },
        );
      }, untilExpiry);
      expiryTimers.add(timer);
    };
    for (const peerId of peers) await offer(peerId);
    // A running PN GW takes commands on its standard input: `offer <peerId>` offers again
    // (a second `gateway serve` could not: the port is taken).
    commands = ctx.lines?.((line) => {
      const [verb, peerId, ...rest] = line.trim().split(/\s+/);
      if (!verb) return;
      if (verb === "offer" && peerId && rest.length === 0) {
        let id: string;
        try {
          id = checkId("Entity ID", peerId);
        } catch (err) {
          ctx.stderr(`${redact(`cpns: ${(err as Error).message}`)}\n`);
          return;
        }
        offer(id).catch((err: unknown) => {
          const failure = describeError(err);
          ctx.stderr(`${formatFailure(failure, options.json)}\n`);
        });
        return;
      }
      ctx.stderr(`cpns: commands: "offer <peerId>" (Ctrl-C stops the PN GW)\n`);
    });
    // Human form: a line of its own; JSON: fields of the "listening" event.
    if (!options.json) {
      ctx.stdout(
        serving.certificate
          ? `TLS pin: ${serving.certificate.pin} (${serving.certificate.pinFile}; sealed with every OTK)\n`
          : "WARNING: --plain-http / CPNS_PLAIN_HTTP=1: PLAIN HTTP, NO TLS (development mode only); peers get no pin\n",
      );
    }
    emit(
      `PN GW ${gatewayId} listening on ${serving.url} (realm "${gateway.realm}", peers reach it at ${endpointFlag ?? serving.url}; CPNS Server ${device.base}); Ctrl-C stops it`,
      {
        event: "listening",
        gatewayId,
        url: serving.url,
        endpoint: endpointFlag ?? serving.url,
        realm: gateway.realm,
        server: device.base,
        ...(serving.certificate
          ? { tlsPin: serving.certificate.pin, tlsPinFile: serving.certificate.pinFile }
          : { plainHttp: true }),
      },
    );
    signal = await serving.stopped;
  } finally {
    commands?.close();
    for (const timer of expiryTimers) clearTimeout(timer);
    await serving.close();
  }
  const states = gateway.states();
  // A session past its expiry still reads "open" until traffic settles it: not counted.
  const now = Date.now() / 1000;
  const open = states.filter((s) => s.state === "open" && (s.sessionExpiresAt ?? 0) > now).length;
  emit(`PN GW ${gatewayId} stopped (${signal}); ${open} session(s) were still open`, {
    event: "stopped",
    signal,
    states,
  });
}

export function registerGatewayCommands(program: Command, ctx: CliContext): void {
  const gateway = program
    .command("gateway")
    .description("run this device's PN GW: offer OTKs to peers, open peer sessions, relay PNEs");
  gateway
    .command("serve")
    .description(
      "serve the PN GW with its EUKey from the key store; deposit an OTK for each --offer; stop on Ctrl-C",
    )
    .requiredOption("--entity <gatewayId>", "the PN GW's Entity ID (its EUKey is in the key store)")
    .option("--listen <host:port>", "where to listen (port 0: any free port)", DEFAULT_LISTEN)
    .option("--offer <peerId>", "deposit an OTK for this PNE or PN GW (repeatable)", collect)
    .option(
      "--endpoint <url>",
      "the address peers use, sent with each OTK (default: the listen URL)",
    )
    .option("--otk-lifetime <s>", "seconds an OTK may wait for its peer (default 120)", seconds)
    .option("--session-lifetime <s>", "seconds a peer session lasts (default 900)", seconds)
    .option(
      "--tls-cert <file>",
      "serve HTTPS with this PEM certificate (chain) instead of a self-signed one",
    )
    .option("--tls-key <file>", "the private key of --tls-cert (PEM)")
    .option(
      "--plain-http",
      "development mode: serve plain HTTP, no TLS (env CPNS_PLAIN_HTTP=1); peers get no pin",
    )
    .action((_options: unknown, command: Command) =>
      serve(ctx, command.optsWithGlobals<ServeOptions>()),
    );
}
