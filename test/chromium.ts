/**
 * Debian's Chromium as the tests drive it (path and flags from scripts/chromium.ts, shared with
 * `npm run model:shot`), and the listeners that let a test prove a page fetched nothing from
 * another host and logged no error. Used by the reviewer page, API page and browser interop tests.
 */
import type { Page } from "playwright-core";

export { CHROMIUM, CHROMIUM_ARGS } from "../scripts/chromium.ts";

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
