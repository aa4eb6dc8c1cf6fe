// The tests run the compiled server as a child process (its worker threads need dist/), so build it once.
const { execFileSync } = require("node:child_process");
const path = require("node:path");

module.exports = async () => {
  const server = path.join(__dirname, "..", "..", "server");
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc", { paths: [server] }), "-p", "tsconfig.build.json"], { cwd: server, stdio: "inherit" });
};
