// The code that runs inside the Lambdas. The stack serializes these factories
// with everything they reach; nothing here may import @pulumi/*.
export { createEventHandler, createHookHandler, createReconcileHandler, EventHandler, HandlerOptions, HookHandler, ReconcileHandler } from "./handler";
