/** The operator CLI's tests (`npm test -- ops`): commands run in-process against a real server process; cloud tools are fake executables on PATH. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  globalSetup: "<rootDir>/test/global-setup.js",
  testTimeout: 30000,
};
