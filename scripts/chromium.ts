/**
 * Debian's Chromium as this project drives it (playwright-core, no downloaded browser): its
 * path and flags, shared by `npm run model:shot` and the browser tests (test/chromium.ts).
 */

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
