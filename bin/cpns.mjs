#!/usr/bin/env node
// The `cpns` command (src/cli/): TypeScript run through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("../src/runtime/node-cli.ts");
