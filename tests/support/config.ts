// Reading a stack file's config as the program does, and what a rejected config says.
import { expect } from "chai";
import { ConfigError, RawLookup } from "../../binder/config";
import { isNamedError } from "../../binder/errors";
import { stackConfig } from "../../tools/mock-stack";

/** The `eip-dns-binder:` keys of Pulumi.<stack>.yaml with `overrides`, as `pulumi config` hands them over. */
export function stackLookup(stack: string, overrides: Record<string, unknown> = {}): RawLookup {
    const config = stackConfig(stack, overrides);
    return key => config[`eip-dns-binder:${key}`];
}

/** The problems of the ConfigError `read` throws; fails if it throws none. */
export function configProblems(read: () => unknown): string[] {
    try {
        read();
    } catch (err) {
        expect(isNamedError(err, "ConfigError")).to.equal(true);
        return (err as ConfigError).problems;
    }
    throw new Error("expected the config to be rejected");
}
