// The code that runs inside the Lambda. The stack serializes createEventHandler
// with everything it reaches; nothing here may import @pulumi/*.
export { createEventHandler, EventHandler } from "./handler";
