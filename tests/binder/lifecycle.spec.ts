// EC2 decides what an event leads to (a pure helper, tested on its own).
import { expect } from "chai";
import { Instance } from "../../binder/aws/ec2";
import { Announcement, announcedPhase, CATCH_UP_DELIVERIES, decide, observedPhase, Phase } from "../../binder/lifecycle";

const says = (phase: Phase, receiveCount = 1, messageId = `m-${phase}-${receiveCount}`): Announcement => ({ messageId, phase, receiveCount });
const instance = (state: string): Instance => ({ instanceId: "i-0aaaaaaaaaaaaaaa1", state, tags: {} });

describe("what EC2 decides", () => {
    it("reads the phase a message announces and the phase EC2 shows", () => {
        expect(["running", "stopping", "stopped", "shutting-down", "terminated", "pending"].map(announcedPhase))
            .to.deep.equal(["running", "stopped", "stopped", "gone", "gone", undefined]);
        expect(["running", "stopping", "stopped", "shutting-down", "terminated", "pending"].map(state => observedPhase(instance(state))))
            .to.deep.equal(["running", "stopped", "stopped", "gone", "gone", "starting"]);
        expect(observedPhase(undefined)).to.equal("unknown");
    });

    it("acts on EC2's phase when a message agrees with it", () => {
        expect(decide("running", [says("running")])).to.deep.equal({ act: "bind", wait: [], done: ["m-running-1"] });
        expect(decide("stopped", [says("stopped")])).to.deep.equal({ act: "withdraw", wait: [], done: ["m-stopped-1"] });
        expect(decide("gone", [says("gone")])).to.deep.equal({ act: "release", wait: [], done: ["m-gone-1"] });
    });

    it("lets a message that EC2 contradicts wait, then takes EC2's word once it has had its deliveries", () => {
        expect(decide("running", [says("gone")])).to.deep.equal({ act: undefined, wait: ["m-gone-1"], done: [] });
        expect(decide("starting", [says("running", 2)])).to.deep.equal({ act: undefined, wait: ["m-running-2"], done: [] });
        expect(decide("running", [says("gone", CATCH_UP_DELIVERIES)])).to.deep.equal({ act: "bind", wait: [], done: [`m-gone-${CATCH_UP_DELIVERIES}`] });
        expect(decide("unknown", [says("running", CATCH_UP_DELIVERIES)])).to.deep.equal({ act: undefined, wait: [], done: [`m-running-${CATCH_UP_DELIVERIES}`] });
    });

    it("never waits to release: a read lags the truth, it never runs ahead of it", () => {
        expect(decide("gone", [says("running"), says("stopped")])).to.deep.equal({ act: "release", wait: [], done: ["m-running-1", "m-stopped-1"] });
    });

    it("acts for the messages that agree and lets the others wait", () => {
        expect(decide("running", [says("running"), says("gone")])).to.deep.equal({ act: "bind", wait: ["m-gone-1"], done: ["m-running-1"] });
    });
});
