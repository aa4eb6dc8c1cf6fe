/** The e2e suite (`npm run test:e2e`): real Docker engine, real images, real Caddy TLS. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test/e2e"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 600000,
  verbose: true,
};
