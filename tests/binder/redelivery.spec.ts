// When a failed message comes back (a pure helper, tested on its own).
import { expect } from "chai";
import { FIRST_REDELIVERY_SECONDS, MAX_REDELIVERY_SECONDS, redeliveryDelay } from "../../binder/redelivery";

describe("redelivery delay", () => {
    it("doubles with each delivery, from half to all of its ceiling", () => {
        const ceilings = [1, 2, 3, 4, 5].map(count => [redeliveryDelay(count, () => 0), redeliveryDelay(count, () => 0.999999)]);
        expect(ceilings).to.deep.equal([[15, 30], [30, 60], [60, 120], [120, 240], [240, 480]]);
        expect(FIRST_REDELIVERY_SECONDS).to.equal(30);
    });

    it("spreads a burst of failures over the whole window", () => {
        const delays = Array.from({ length: 200 }, () => redeliveryDelay(1));
        expect(Math.min(...delays)).to.be.at.least(15);
        expect(Math.max(...delays)).to.be.at.most(30);
        expect(new Set(delays).size).to.be.greaterThan(5);
        expect(delays.every(Number.isInteger)).to.equal(true);
    });

    it("never waits longer than the cap, however often the message came back", () => {
        expect(redeliveryDelay(7, () => 0.999999)).to.equal(MAX_REDELIVERY_SECONDS);
        expect(redeliveryDelay(60, () => 0.999999)).to.equal(MAX_REDELIVERY_SECONDS);
        expect(redeliveryDelay(60, () => 0)).to.equal(MAX_REDELIVERY_SECONDS / 2);
    });

    it("treats a count below one as a first delivery", () => {
        expect(redeliveryDelay(0, () => 0)).to.equal(15);
    });
});
