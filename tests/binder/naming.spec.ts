import { expect } from "chai";
import { candidateOrder, fnv1a } from "../../binder/candidates";
import { hostNameProblem, isWithin, placeholdersIn, renderName, usesInstance } from "../../binder/naming";

describe("naming", () => {
    it("renders every placeholder, lower-cased", () => {
        const values = { ip: "203.0.113.7", suffix: "Live.Example.com.", instanceId: "i-0abc" };
        expect(renderName("{ip-dashed}.{suffix}", values)).to.equal("203-0-113-7.live.example.com");
        expect(renderName("{ip}.{suffix}", values)).to.equal("203.0.113.7.live.example.com");
        expect(renderName("{instance-id}.edge.{suffix}", values)).to.equal("i-0abc.edge.live.example.com");
    });

    it("leaves {instance-id} in place when no instance is known yet", () => {
        expect(renderName("{instance-id}.{suffix}", { ip: "203.0.113.7", suffix: "x.com" })).to.equal("{instance-id}.x.com");
        expect(usesInstance("{instance-id}.{suffix}")).to.equal(true);
        expect(usesInstance("{ip}.{suffix}")).to.equal(false);
    });

    it("lists placeholders, known or not", () => {
        expect(placeholdersIn("{a}-{ip}.{suffix}")).to.deep.equal(["a", "ip", "suffix"]);
    });

    it("checks host names label by label", () => {
        expect(hostNameProblem("a-1.example.com")).to.equal(undefined);
        expect(hostNameProblem("-a.example.com")).to.match(/label '-a'/);
        expect(hostNameProblem(`${"a".repeat(64)}.com`)).to.match(/1-63/);
        expect(hostNameProblem(`${"a.".repeat(127)}com`)).to.match(/at most 253/);
    });

    it("knows what lies inside a zone", () => {
        expect(isWithin("a.live.example.com", "live.example.com.")).to.equal(true);
        expect(isWithin("live.example.com", "live.example.com")).to.equal(true);
        expect(isWithin("alive.example.com", "live.example.com")).to.equal(false);
    });
});

describe("candidate order", () => {
    const pool = ["eipalloc-c", "eipalloc-a", "eipalloc-d", "eipalloc-b"].map(allocationId => ({ allocationId }));

    it("ranks every address by a hash of instance and address, the same every time for one instance", () => {
        const order = candidateOrder("i-0123456789abcdef0", pool).map(a => a.allocationId);
        expect(order).to.have.members(pool.map(a => a.allocationId));
        expect(candidateOrder("i-0123456789abcdef0", [...pool].reverse()).map(a => a.allocationId)).to.deep.equal(order);
        const ranks = order.map(id => fnv1a(`i-0123456789abcdef0/${id}`));
        expect(ranks).to.deep.equal([...ranks].sort((a, b) => a - b));
    });

    it("keeps an instance's order among the addresses that remain when one is taken", () => {
        const order = candidateOrder("i-0123456789abcdef0", pool).map(a => a.allocationId);
        const rest = candidateOrder("i-0123456789abcdef0", pool.filter(a => a.allocationId !== order[0])).map(a => a.allocationId);
        expect(rest).to.deep.equal(order.slice(1));
    });

    it("spreads instances over the pool", () => {
        const firsts = new Set<string>();
        for (let i = 0; i < 64; i++) firsts.add(candidateOrder(`i-${(0x1000 + i).toString(16).padStart(17, "0")}`, pool)[0].allocationId);
        expect(firsts.size).to.equal(4);
        expect(fnv1a("")).to.equal(0x811c9dc5);
        expect(fnv1a("a")).to.equal(0xe40c292c);
    });

    it("has nothing to offer from an empty pool", () => {
        expect(candidateOrder("i-1", [])).to.deep.equal([]);
    });
});
