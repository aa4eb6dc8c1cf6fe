/** Jest runs TypeScript through ts-jest in isolated-modules mode (transpile only); `npm run typecheck` type-checks once. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true, diagnostics: false }] },
  globalSetup: "<rootDir>/test/global-setup.js",
  // protocol/ sits outside server/: resolve its zod import to the server's own copy, as the built image does.
  moduleNameMapper: { "^zod$": "<rootDir>/node_modules/zod" },
  testTimeout: 60000,
};
