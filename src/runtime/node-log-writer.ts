/**
 * Issue #9 item 5: the security log written off the request path. Lines are
 * buffered in memory and appended asynchronously in batches (one write in
 * flight at a time, so order is kept); close() drains the buffer, so a clean
 * shutdown (SIGINT/SIGTERM in src/runtime/node.ts) loses no line. The file is
 * rotated by size: security.log -> security.log.1 -> ... -> .<keep>, the
 * oldest dropped, every file 0600. The buffer is bounded too: past it lines are
 * dropped and counted, and the count is written as its own line.
 *
 * Implements: LOG-ROTATE, LOG-SHUTDOWN
 */
import { appendFile, rename, stat } from "node:fs/promises";

export interface LogWriterOptions {
  /** Rotate before the file would exceed this size (default 10 MiB). */
  maxBytes?: number;
  /** Rotated files kept (default 5). */
  keep?: number;
  /** Largest backlog in memory before lines are dropped (default 4 MiB). */
  maxBufferedBytes?: number;
}

export class RotatingLogWriter {
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #maxBuffered: number;
  #buffer: string[] = [];
  #bufferedBytes = 0;
  #dropped = 0;
  #size: number | undefined;
  #running: Promise<void> | undefined;

  constructor(
    readonly file: string,
    options: LogWriterOptions = {},
  ) {
    this.#maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.#keep = Math.max(1, options.keep ?? 5);
    this.#maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  }

  /** Queues one line (without its newline); never blocks the caller. */
  write(line: string): void {
    const text = `${line}\n`;
    if (this.#bufferedBytes + text.length > this.#maxBuffered) {
      this.#dropped += 1;
      return;
    }
    this.#buffer.push(text);
    this.#bufferedBytes += text.length;
    this.#running ??= this.#drain();
  }

  async #rotate(): Promise<void> {
    for (let i = this.#keep - 1; i >= 1; i--) {
      await rename(`${this.file}.${i}`, `${this.file}.${i + 1}`).catch(() => {});
    }
    await rename(this.file, `${this.file}.1`).catch(() => {});
    this.#size = 0;
  }

  async #drain(): Promise<void> {
    try {
      this.#size ??= await stat(this.file).then(
        (info) => info.size,
        () => 0,
      );
      while (this.#buffer.length > 0 || this.#dropped > 0) {
        if (this.#dropped > 0) {
          const note = JSON.stringify({
            ts: new Date().toISOString(),
            event: "log.dropped",
            count: this.#dropped,
          });
          this.#buffer.push(`${note}\n`);
          this.#dropped = 0;
        }
        const lines = this.#buffer;
        this.#buffer = [];
        this.#bufferedBytes = 0;
        // Cut the backlog into writes that fit the current file, rotating in between.
        let batch = "";
        let batchBytes = 0;
        for (const line of lines) {
          const bytes = Buffer.byteLength(line);
          const size = (this.#size ?? 0) + batchBytes;
          if (size > 0 && size + bytes > this.#maxBytes) {
            if (batch) await appendFile(this.file, batch, { mode: 0o600 });
            await this.#rotate();
            batch = "";
            batchBytes = 0;
          }
          batch += line;
          batchBytes += bytes;
        }
        if (batch) await appendFile(this.file, batch, { mode: 0o600 });
        this.#size = (this.#size ?? 0) + batchBytes;
      }
    } finally {
      this.#running = undefined;
    }
  }

  /** Resolves once every line written so far is in the file. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }
}
