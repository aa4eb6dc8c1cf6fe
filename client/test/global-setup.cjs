// Builds the server (the tests spawn its compiled main.js) and this package (the demo route test serves dist/demo).
const { execFileSync } = require("node:child_process");
const path = require("node:path");
const buildServer = require("../../server/test/global-setup.js");

module.exports = async () => {
  await buildServer();
  execFileSync(process.execPath, [path.join(__dirname, "..", "build.mjs")], { cwd: path.join(__dirname, ".."), stdio: "inherit" });
};
