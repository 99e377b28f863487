/**
 * Where the `cpns` command finds what it needs, flag first, then environment,
 * then default:
 *
 *   server       --server <url>    CPNS_SERVER       https://127.0.0.1:8787
 *   key store    --keystore <dir>  CPNS_KEYSTORE     ./.cpns-device
 *   admin token  --admin-token     CPNS_ADMIN_TOKEN  <CPNS_DATA_DIR or ./.cpns-data>/admin.token
 *   admin key pin --admin-key-pin  CPNS_ADMIN_KEY_PIN <CPNS_DATA_DIR or ./.cpns-data>/admin-key.pin
 *   TLS trust    --cacert <file>   CPNS_CA_FILE      (issue #10) the server's CA (PEM)
 *                --pin <sha256//…> CPNS_TLS_PIN      the server's SPKI pin; for an https
 *                                  server without either: <data>/tls.pin, else the system store
 *
 * and the Entity ID / User ID rules of the server (src/protocol/schemas.ts),
 * checked before anything is sent or a file name is made.
 *
 * Issue #11 (the CLI/runtime wall): the files are read through the CLI's
 * context (`files`, built by src/runtime/node-cli.ts), so nothing under src/cli
 * imports src/runtime.
 *
 * Implements: CLI-FLOWS
 * Implements: TLS-CLI-TRUST
 */

import type { DeviceKeyStore } from "../agent/keystore.ts";
import { parsePin, type ServerTrust } from "../channel/tls-pin.ts";
import { CpnsError } from "../errors.ts";
import { CliError, rememberSecret, usageError } from "./errors.ts";

/** `npm start` serves HTTPS by default (issue #10); its pin is kept in <data>/tls.pin. */
export const DEFAULT_SERVER = "https://127.0.0.1:8787";

/** The environment the command reads (process.env on Node). */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** A device key store in a folder (src/runtime/node-keystore.ts on Node). */
export interface CliKeyStore extends DeviceKeyStore {
  /** The folder, as an absolute path (for messages). */
  readonly dir: string;
  /** The file that holds `entityId`'s record (for messages). */
  fileOf(entityId: string): string;
}

/**
 * The files the command reads on this machine, supplied by the runtime
 * (src/runtime/node-cli.ts: node-keystore.ts and node-cli-files.ts on Node).
 */
export interface CliFiles {
  /** The key store folder: the flag, else CPNS_KEYSTORE, else ./.cpns-device, absolute. */
  keystoreDir(flag: string | undefined, env: CliEnv): string;
  openKeyStore(dir: string): CliKeyStore;
  /** <dataDir>/admin.token: the token, or why there is none. */
  readAdminTokenFile(dataDir: string): { file: string; token?: string; reason?: string };
  /** <dataDir>/tls.pin, if any. */
  readTlsPinFile(dataDir: string): { file: string; pin?: string };
  /** A PEM file the operator named: its text, or why it cannot be read. */
  readPemFile(path: string): { file: string; text?: string; reason?: string };
  /** <dataDir>/admin-key.pin, if any. */
  readAdminKeyPinFile(dataDir: string): string | undefined;
}

/** What the settings read: the environment and the machine's files (both from the CLI's context). */
export interface CliSources {
  env: CliEnv;
  files: CliFiles;
}

/** The options every command understands (declared on the program). */
export interface GlobalOptions {
  server?: string;
  keystore?: string;
  json?: boolean;
  cacert?: string;
  pin?: string;
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`not a URL: ${url}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw usageError(`the server URL must be http: or https:, got ${url}`);
  }
  return url.replace(/\/+$/, "");
}

/** The server URL given by flag or environment, if any. */
export function explicitServer(options: GlobalOptions, env: CliEnv): string | undefined {
  const url = options.server || env.CPNS_SERVER;
  return url ? checkUrl(url) : undefined;
}

export function serverUrl(options: GlobalOptions, env: CliEnv): string {
  return explicitServer(options, env) ?? DEFAULT_SERVER;
}

export function keystorePath(options: GlobalOptions, { env, files }: CliSources): string {
  return files.keystoreDir(options.keystore, env);
}

export function adminToken(flag: string | undefined, { env, files }: CliSources): string {
  const given = flag || env.CPNS_ADMIN_TOKEN;
  if (given) {
    rememberSecret(given);
    return given;
  }
  const { file, token, reason } = files.readAdminTokenFile(env.CPNS_DATA_DIR || ".cpns-data");
  if (token === undefined) {
    throw new CliError(
      "ERR_NO_ADMIN_TOKEN",
      `no admin token: set CPNS_ADMIN_TOKEN, pass --admin-token, or run beside the server's data folder (${file}: ${reason})`,
    );
  }
  if (!token) throw new CliError("ERR_NO_ADMIN_TOKEN", `no admin token: ${file} is empty`);
  rememberSecret(token);
  return token;
}

/**
 * How the CLI trusts an https server (issue #10): --cacert / CPNS_CA_FILE and
 * --pin / CPNS_TLS_PIN (both: both checked); without either, the pin the local
 * server keeps in <CPNS_DATA_DIR or ./.cpns-data>/tls.pin; without that, the
 * system trust store (undefined here). Never "no verification". Plain http
 * URLs get no trust: the CLI does not invent TLS the URL did not ask for.
 */
export function serverTrust(
  options: GlobalOptions,
  { env, files }: CliSources,
  base: string,
): (ServerTrust & { source: string }) | undefined {
  const caPath = options.cacert || env.CPNS_CA_FILE;
  const pinText = options.pin || env.CPNS_TLS_PIN;
  if (!caPath && !pinText && new URL(base).protocol !== "https:") return undefined;
  const trust: ServerTrust & { source: string } = { source: "" };
  const sources: string[] = [];
  if (caPath) {
    const { file, text, reason } = files.readPemFile(caPath);
    if (text === undefined) throw usageError(`--cacert: cannot read ${file}: ${reason}`);
    if (!text.includes("-----BEGIN CERTIFICATE-----")) {
      throw usageError(`--cacert: ${file} holds no PEM certificate`);
    }
    trust.ca = text;
    sources.push(`CA file ${file}`);
  }
  if (pinText) {
    trust.pin = checkedPin(pinText, "--pin");
    sources.push("the given pin");
  }
  if (!caPath && !pinText) {
    const { file, pin } = files.readTlsPinFile(env.CPNS_DATA_DIR || ".cpns-data");
    if (!pin) return undefined;
    trust.pin = checkedPin(pin, file);
    sources.push(`the pin in ${file}`);
  }
  trust.source = sources.join(" and ");
  return trust;
}

function checkedPin(pin: string, where: string): string {
  try {
    return parsePin(pin);
  } catch (err) {
    if (err instanceof CpnsError) throw new CliError(err.code, `${where}: ${err.message}`, 2);
    throw err;
  }
}

/** CPNS_PLAIN_HTTP=1 (or true/yes): the explicit development mode without TLS (issue #10). */
export function plainHttpRequested(env: CliEnv): boolean {
  return /^(1|true|yes)$/i.test(env.CPNS_PLAIN_HTTP ?? "");
}

/** The pin of the server's admin transport key (issue #9 item 6), if the admin has one. */
export function adminKeyPin(
  flag: string | undefined,
  { env, files }: CliSources,
): string | undefined {
  return (
    flag || env.CPNS_ADMIN_KEY_PIN || files.readAdminKeyPinFile(env.CPNS_DATA_DIR || ".cpns-data")
  );
}

/**
 * The server's ID_PATTERN (src/protocol/schemas.ts), repeated here because
 * importing that module loads zod, which would double the CLI's start-up time;
 * test/e2e/cli.test.ts checks that the two stay the same.
 */
export const CLI_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** A User ID or Entity ID as the server accepts it; anything else is a usage error. */
export function checkId(kind: "User ID" | "Entity ID", id: string): string {
  if (!CLI_ID_PATTERN.test(id)) {
    throw usageError(`invalid ${kind} ${JSON.stringify(id)}: use 1-64 of A-Z a-z 0-9 . _ @ -`);
  }
  return id;
}
