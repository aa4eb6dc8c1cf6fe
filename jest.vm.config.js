/** The VM suite (`npm run test:vm`): qemu boots of each cloud's real user data. Run through scripts/vm/run.sh. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test/vm"],
  // *.vm.ts, not *.test.ts: `npm test` (jest.config.js) must never start a VM.
  testMatch: ["<rootDir>/test/vm/**/*.vm.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true, diagnostics: false }] },
  testTimeout: 1_800_000,
  verbose: true,
  bail: false,
  forceExit: true,
};
