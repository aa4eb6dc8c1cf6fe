/**
 * The client's tests, against a real server process (the compiled server, built once by
 * the server's own global setup). ts-jest transpiles to CommonJS here; `npm run typecheck`
 * type-checks once.
 */
const path = require("node:path");
const server = path.join(__dirname, "..", "server");

module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false, tsconfig: "<rootDir>/tsconfig.jest.json" }] },
  globalSetup: "<rootDir>/test/global-setup.cjs",
  // The server's test helpers and protocol/ resolve zod to the server's copy, as the server's own tests do.
  moduleNameMapper: { "^zod$": path.join(server, "node_modules", "zod") },
  testTimeout: 60000,
};
