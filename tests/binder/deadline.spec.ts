// Working within the invocation's timeout (pure helpers, tested on their own).
import { expect } from "chai";
import { hasTimeToStart, TIME_TO_START_MS, waitBudgetSeconds } from "../../binder/deadline";
import { IN_SYNC_WAIT } from "../../binder/aws/dns";

describe("deadline", () => {
    it("starts a bind or release only with 40 s or more left, and always outside Lambda", () => {
        expect(TIME_TO_START_MS).to.equal(40_000);
        expect([Infinity, 120_000, 40_000, 39_999, 0].map(hasTimeToStart)).to.deep.equal([true, true, true, false, false]);
    });

    it("lets a wait run to its own limit, or until 10 s before the timeout, but never under 2 s", () => {
        const limit = IN_SYNC_WAIT.maxWaitTime;
        expect([Infinity, 120_000, 70_000, 41_500, 12_000, 5_000, -1].map(left => waitBudgetSeconds(left, limit)))
            .to.deep.equal([60, 60, 60, 31, 2, 2, 2]);
    });
});
