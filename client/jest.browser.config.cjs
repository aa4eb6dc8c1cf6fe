/** The Chromium test of the demo (test/browser/ at the repo root), run from here so it resolves this package's playwright-core. */
const path = require("node:path");
const base = require("./jest.config.cjs");

module.exports = {
  ...base,
  rootDir: __dirname,
  roots: ["<rootDir>/../test/browser"],
  modulePaths: ["<rootDir>/node_modules"],
  testTimeout: 120000,
  verbose: true,
};
