/** Jest runs TypeScript through ts-jest, transpile only (tsconfig.json sets isolatedModules, which ts-jest 29.4 reads there); `npm run typecheck` type-checks once. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  globalSetup: "<rootDir>/test/global-setup.js",
  // protocol/ sits outside server/: resolve its zod import to the server's own copy, as the built image does.
  moduleNameMapper: { "^zod$": "<rootDir>/node_modules/zod" },
  testTimeout: 60000,
};
