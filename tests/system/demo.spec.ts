// `npm run demo`, in-process: the day's phases happen with the expected counts,
// the status table shows the world they leave, the invariants hold, and the
// invariant check does find a world that breaks them.
import { expect } from "chai";
import { DAY, DemoResult, runDemo } from "../../tools/demo";
import { checkInvariants } from "../../tools/demo/invariants";
import { DemoWorld } from "../../tools/demo/world";

describe("npm run demo", function () {
    this.timeout(180_000);
    let demo: DemoResult;

    before(async () => {
        demo = await runDemo();
    });

    it("says it is a local simulation, not AWS", () => {
        expect(demo.lines[0]).to.include("LOCAL SIMULATION, not AWS");
        expect(demo.lines.at(-1)).to.match(/^done in \d+\.\ds: a local simulation, nothing was sent to AWS/);
    });

    it("plays the day's phases with their counts, one line each", () => {
        const counts = demo.phases.map(({ name, bound, handedOver, waited, drained, released }) => ({ name, bound, handedOver, waited, drained, released }));
        expect(counts).to.deep.equal([
            { name: "burst", bound: DAY.fleet, handedOver: 0, waited: 0, drained: 0, released: 0 },
            // Each new worker waits, and is bound when an old worker's release hands its address over.
            { name: "replace", bound: DAY.replaced, handedOver: DAY.replaced, waited: DAY.replaced, drained: 0, released: DAY.replaced },
            { name: "spot", bound: 0, handedOver: 0, waited: 0, drained: DAY.spotWarnings, released: 0 },
            { name: "terminate", bound: 0, handedOver: 0, waited: 0, drained: 0, released: DAY.terminated },
        ]);
        const pad = (count: number) => String(count).padStart(2);
        for (const p of demo.phases) {
            const printed = demo.lines.filter(line => line.startsWith(`  ${p.name} `));
            expect(printed, p.name).to.have.length(1);
            expect(printed[0], p.name).to.include(`bound ${pad(p.bound)}  waiting ${pad(p.waited)}  drained ${pad(p.drained)}  released ${pad(p.released)}`).and.match(/ \d+\.\ds( |$)/);
        }
        expect(demo.lines.filter(line => /^  reconcile\s+the scheduled reconciler's run\s+0 drift found, 0 fixed\s+\d+\.\ds$/.test(line))).to.have.length(1);
    });

    it("ends with the invariants holding and the CLI's status table for that world", () => {
        expect(demo.broken).to.deep.equal([]);
        expect(demo.ok).to.equal(true);
        expect(demo.status.code).to.equal(0);
        expect(demo.status.stderr).to.equal("");
        const [pool, draining, summary] = demo.status.stdout.trimEnd().split("\n\n");
        const rows = pool.split("\n").slice(1);
        expect(rows).to.have.length(DAY.fleet);
        const running = DAY.fleet - DAY.terminated;
        expect(rows.filter(row => /\srunning\s/.test(row))).to.have.length(running);
        expect(rows.filter(row => /^\S+\s+-\s+-\s+-/.test(row))).to.have.length(DAY.terminated);
        expect(draining.split("\n").slice(1).filter(row => /\sspot-interruption\s+\d+s\s+in \dm/.test(row))).to.have.length(DAY.spotWarnings);
        expect(summary).to.equal(`${DAY.fleet} addresses, ${DAY.terminated} free, 0 drift, ${DAY.spotWarnings} draining`);
        // The scheduler placed its streams through the client; those on servers still up show allocated.
        expect(demo.lines.filter(line => new RegExp(`^  schedule\\s+${DAY.streams} streams placed by the scheduler client\\s+allocated ${DAY.streams}, `).test(line))).to.have.length(1);
        expect(rows.filter(row => /\srunning\s+yes\s/.test(row)).length).to.be.within(1, DAY.streams);
        // What the demo printed is that table.
        expect(demo.lines.join("\n")).to.include(demo.status.stdout.trimEnd());
    });

    it("has an invariant check that finds a worker left unbound, and a binding nobody recorded", async () => {
        const world = await DemoWorld.open(demo.stack);
        try {
            const [unbound, unrecorded] = world.launch(2);
            for (const id of [unbound, unrecorded]) world.ec2.setState(id, "running");
            const address = world.ec2.addresses()[0];
            world.ec2.associateOutOfBand(address.allocationId, unrecorded);
            const { broken } = await checkInvariants(world, []);
            expect(broken).to.include.members([
                `running targets holding a pool address: missing ${unbound}`,
                `claims: missing ${unrecorded} ${address.allocationId}`,
                `locks: missing ${unrecorded} ${address.allocationId}`,
            ]);
            expect(broken.find(problem => problem.startsWith("server rows: missing"))).to.include(unrecorded);
        } finally {
            await world.close();
        }
    });
});
