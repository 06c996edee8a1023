// The CLI's --pool: which pool's settings it reads from a stack with several, taken
// from the outputs the real program exports under mocks.
import { expect } from "chai";
import { parseInvocation } from "../../cli/args";
import { loadSettings } from "../../cli/settings";
import { runStack } from "../../tools/mock-stack";

const EDGE = {
    instanceTags: { "team": "live", "karpenter.sh/nodepool": "edge-dev" },
    addressTags: { team: "live", pool: "edge-dev" },
    poolSize: 2,
};

/** The settings the CLI reads for `argv` from `output` on standard input, or its refusal. */
async function settingsFor(argv: string[], output: unknown) {
    try {
        return (await loadSettings(parseInvocation([...argv, "status"]).source, async () => JSON.stringify(output))).binder;
    } catch (err) {
        return (err as Error).message;
    }
}

describe("the operator CLI's --pool", function () {
    this.timeout(120_000);
    let twoPools: Record<string, any>;
    let namedOnly: Record<string, any>;
    before(async () => {
        twoPools = (await runStack("dev", { pools: { edge: EDGE } })).outputs;
        namedOnly = (await runStack("dev", { instanceTags: undefined, addressTags: undefined, poolSize: undefined, pools: { edge: EDGE, east: {
            instanceTags: { "karpenter.sh/nodepool": "east" }, addressTags: { pool: "east" },
        } } })).outputs;
    });

    it("reads the top-level pool without --pool, as from a stack made before pools", async () => {
        const settings = await settingsFor([], twoPools);
        expect(settings).to.deep.include({ stack: "dev", addressTags: { team: "live", pool: "media-dev" } });
        expect(await settingsFor(["--pool", "default"], twoPools)).to.deep.equal(settings);
    });

    it("reads a named pool's settings with --pool", async () => {
        expect(await settingsFor(["--pool", "edge"], twoPools)).to.deep.include({
            stack: "dev/edge", addressTags: EDGE.addressTags, serversTable: twoPools.pools.edge.serversTable,
        });
    });

    it("refuses a pool the stack does not have, naming those it has", async () => {
        expect(await settingsFor(["--pool", "west"], twoPools)).to.equal("standard input has no pool 'west': its pools are default, edge");
    });

    it("asks for --pool when the stack has several pools and no top-level one", async () => {
        expect(await settingsFor([], namedOnly)).to.equal("standard input has several pools (edge, east) and no top-level one: choose one with --pool <name>");
        expect(await settingsFor(["--pool", "east"], namedOnly)).to.deep.include({ stack: "dev/east" });
    });

    it("reads the stack's Region from the chosen pool's serversStream", async () => {
        const source = parseInvocation(["--pool", "edge", "status"]).source;
        const { region } = await loadSettings(source, async () => JSON.stringify(twoPools));
        expect(region?.output).to.equal("pools.edge.serversStream");
        expect(twoPools.pools.edge.serversStream).to.include(`:${region?.name}:`);
    });
});
