/** Infra tests. TypeScript runs through ts-jest in isolated-modules mode (transpile only); `npm run typecheck` type-checks once. The server has its own jest config in server/. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testPathIgnorePatterns: ["/node_modules/", "/test/e2e/", "/test/browser/"],
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true, diagnostics: false }] },
  testTimeout: 60000,
};
