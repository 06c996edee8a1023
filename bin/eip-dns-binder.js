#!/usr/bin/env node
// Runs the operator CLI from its TypeScript source. Transpile-only: type checking
// is `npm test`'s job, and skipping it keeps start-up quick.
"use strict";
const path = require("path");

require("ts-node").register({ project: path.join(__dirname, "..", "tsconfig.json"), transpileOnly: true });
require("../cli/main").run();
