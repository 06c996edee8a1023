// A stand-in for the Node.js Lambda runtime: loads a handler from an unpacked
// archive ("<dir> <file.export>"), then invokes it for each event sent over IPC.
// Plain JavaScript, so it runs in a fresh Node process with nothing preloaded.
const path = require("path");

const [dir, spec] = process.argv.slice(2);
const [file, exportName] = spec.split(".");
const reply = message => new Promise(resolve => process.send(message, resolve));
// Lambda tells a function its own ARN in the context, not in the environment: the account comes
// from a variable only this host reads, gone before the handler loads.
const account = process.env.LAMBDA_HOST_ACCOUNT_ID;
delete process.env.LAMBDA_HOST_ACCOUNT_ID;
const functionArn = account && `arn:aws:lambda:${process.env.AWS_REGION}:${account}:function:${process.env.AWS_LAMBDA_FUNCTION_NAME}`;
const describe = err => ({ name: err && err.name, message: err && err.message });

// Each result says how much the function has written to stdout by then, so that the
// parent, which reads stdout and this channel separately, can wait for its log lines.
let written = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
    written += Buffer.byteLength(chunk);
    return write(chunk, ...rest);
};

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
    const context = { awsRequestId: id, invokedFunctionArn: functionArn, getRemainingTimeInMillis: () => deadline - Date.now() };
    try {
        const value = await handler(event, context);
        await reply({ type: "result", id, value, written });
    } catch (err) {
        await reply({ type: "result", id, error: describe(err), written });
    }
});
process.on("disconnect", () => process.exit(0));
reply({ type: "ready" });
