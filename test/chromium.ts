/**
 * Debian's Chromium as the tests drive it (playwright-core, no downloaded browser): one place
 * for its path, its flags, and the listeners that let a test prove a page fetched nothing from
 * another host and logged no error. Used by the reviewer page, API page and browser interop tests.
 */
import type { Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Headless, no sandbox (root in CI), and none of Chromium's own traffic to other hosts. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Appends every console error and uncaught page error of `page` to `into`. */
export function collectConsoleErrors(page: Page, into: string[]): void {
  page.on("console", (message) => {
    if (message.type() === "error") into.push(message.text());
  });
  page.on("pageerror", (error) => into.push(`pageerror: ${error.message}`));
}

/** Appends the URL of every request `page` makes to `into`. */
export function collectRequestUrls(page: Page, into: string[]): void {
  page.on("request", (request) => into.push(request.url()));
}
