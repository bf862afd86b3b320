// Runs before every script of this project (see package.json): on a Node that wrangler and
// vitest cannot run on, one line saying what to install, instead of a screen of errors.
// Plain JavaScript on purpose: it must run on the old Node it is there to refuse.
const NEEDED = [22, 12];
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < NEEDED[0] || (major === NEEDED[0] && minor < NEEDED[1])) {
  console.error(
    `This project needs Node ${NEEDED.join(".")} or newer (wrangler 4 and vitest need it); this is Node ${process.versions.node}. ` +
      "Install Node 22 or newer (https://nodejs.org, or `nvm install 22`), then run the command again.",
  );
  process.exit(1);
}
