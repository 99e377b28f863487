/**
 * Where the `cpns` command gets a CPNS User's password, never from a plain
 * flag (it would show in `ps` and in shell history):
 *
 *   --password-stdin   one line read from standard input (scripts, CI)
 *   CPNS_PASSWORD      the environment
 *   a prompt           on a terminal, with echo off (asked twice for `user add`)
 *
 * The CLI registers the password as a secret so no error line can carry it
 * (src/cli/context.ts askPassword); this file knows nothing of the CLI: it is
 * handed to it through the CLI's context by src/runtime/node-cli.ts, which
 * turns a PasswordError into the CLI's error (issue #11, the CLI/runtime wall).
 *
 * Implements: CLI-FLOWS
 */
import type { ReadStream } from "node:tty";

/** Why no password could be read; `exitCode` is the one the CLI should end with (2 usage, 130 interrupted). */
export class PasswordError extends Error {
  constructor(
    readonly code: "ERR_NO_PASSWORD" | "ERR_INTERRUPTED",
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "PasswordError";
  }
}

export interface PasswordSources {
  passwordStdin?: boolean;
}

export interface PasswordIo {
  stdin: NodeJS.ReadStream;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** Reads up to the first line break (or the end of input) and stops reading. */
export function readLine(stdin: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const finish = (error: Error | undefined, line: string) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.off("error", onError);
      stdin.pause();
      if (error) reject(error);
      else resolve(line.replace(/\r$/, ""));
    };
    const onData = (chunk: string | Buffer) => {
      buffered += typeof chunk === "string" ? chunk : chunk.toString("utf8");
      const end = buffered.indexOf("\n");
      if (end >= 0) finish(undefined, buffered.slice(0, end));
    };
    const onEnd = () => finish(undefined, buffered);
    const onError = (err: Error) => finish(err, "");
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.once("end", onEnd);
    stdin.once("error", onError);
    stdin.resume();
  });
}

/** Reads one line from a terminal without echoing it. */
export function promptHidden(question: string, io: PasswordIo): Promise<string> {
  const stdin = io.stdin as ReadStream;
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (error: PasswordError | undefined) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      io.stderr("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return finish(undefined);
        if (ch === "\u0003")
          return finish(new PasswordError("ERR_INTERRUPTED", "interrupted", 130));
        if (ch === "\u0004" && value === "") {
          return finish(new PasswordError("ERR_NO_PASSWORD", "no password given", 2));
        }
        if (ch === "\u007f" || ch === "\b") value = Array.from(value).slice(0, -1).join("");
        else if (ch === "\u0015") value = "";
        else if (ch >= " ") value += ch;
      }
    };
    // Echo off before the question appears, so not even a fast typist is echoed.
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.resume();
    io.stderr(question);
  });
}

/**
 * The password of `userId` from the first source that applies. `confirm` asks
 * twice at a prompt (creating a user), since a typo there cannot be seen.
 */
export async function readPassword(
  userId: string,
  sources: PasswordSources,
  io: PasswordIo,
  confirm = false,
): Promise<string> {
  let password: string;
  if (sources.passwordStdin) {
    password = await readLine(io.stdin);
    if (!password)
      throw new PasswordError("ERR_NO_PASSWORD", "empty password on standard input", 2);
  } else if (io.env.CPNS_PASSWORD) {
    password = io.env.CPNS_PASSWORD;
  } else if (io.stdin.isTTY) {
    password = await promptHidden(`Password for ${userId}: `, io);
    if (!password) throw new PasswordError("ERR_NO_PASSWORD", "empty password", 2);
    if (confirm) {
      const again = await promptHidden(`Retype the password for ${userId}: `, io);
      if (again !== password) throw new PasswordError("ERR_NO_PASSWORD", "the passwords differ", 2);
    }
  } else {
    throw new PasswordError(
      "ERR_NO_PASSWORD",
      "no password: pass --password-stdin, set CPNS_PASSWORD, or run on a terminal",
      2,
    );
  }
  return password;
}
