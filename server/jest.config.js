/** Jest runs TypeScript through SWC (isolated modules); `npm run typecheck` type-checks once. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }] },
  globalSetup: "<rootDir>/test/global-setup.js",
  testTimeout: 60000,
};
