// A stand-in for the Node.js Lambda runtime: loads a handler from an unpacked
// archive ("<dir> <file.export>"), then invokes it for each event sent over IPC.
// Plain JavaScript, so it runs in a fresh Node process with nothing preloaded.
const path = require("path");

const [dir, spec] = process.argv.slice(2);
const [file, exportName] = spec.split(".");
const reply = message => new Promise(resolve => process.send(message, resolve));
const describe = err => ({ name: err && err.name, message: err && err.message });

let handler;
try {
    handler = require(path.join(dir, file))[exportName];
    if (typeof handler !== "function") throw new TypeError(`${spec} is not a function`);
} catch (err) {
    reply({ type: "init-error", error: describe(err) }).then(() => process.exit(1));
    return;
}

process.on("message", async ({ id, event, timeLeftMs }) => {
    // The part of Lambda's context object the handlers read.
    const deadline = Date.now() + timeLeftMs;
    const context = { awsRequestId: id, getRemainingTimeInMillis: () => deadline - Date.now() };
    try {
        const value = await handler(event, context);
        await reply({ type: "result", id, value });
    } catch (err) {
        await reply({ type: "result", id, error: describe(err) });
    }
});
process.on("disconnect", () => process.exit(0));
reply({ type: "ready" });
