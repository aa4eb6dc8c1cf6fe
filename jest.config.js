/** Infra tests. TypeScript runs through ts-jest, transpile only (tsconfig.json sets isolatedModules, which ts-jest 29.4 reads there); `npm run typecheck` type-checks once. The server has its own jest config in server/. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testPathIgnorePatterns: ["/node_modules/", "/test/e2e/", "/test/browser/"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 60000,
};
