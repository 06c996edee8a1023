// Which drain signals EC2 confirms, and how long an unconfirmed one is given.
import { expect } from "chai";
import { CONFIRM_DELIVERIES, confirms, Evidence, SignalOf, toAsk, weigh } from "../../binder/confirm";
import { DrainNotice } from "../../binder/drain";
import { Instance } from "../../binder/aws/ec2";
import { confirmationDelay } from "../../binder/redelivery";
import { SPOT_WARNING_MS } from "../../binder/events";

const LAUNCHED = "2026-12-01T00:00:00.000Z";
const worker = (spot = true): Instance => ({ instanceId: "i-0aaaaaaaaaaaaaaa0", state: "running", tags: {}, launchedAt: LAUNCHED, ...(spot && { spot: true as const }) });
const notice = (cause: DrainNotice["cause"], signalledAt = "2026-12-01T01:00:00.000Z"): DrainNotice => ({ cause, signalledAt });
const evidence = (spot?: string, events: string[] = []): Evidence => ({
    spotStatus: new Map(spot ? [[worker().instanceId, spot]] : []),
    scheduledEvents: new Map([[worker().instanceId, events]]),
});

describe("drain signals confirmed with EC2", () => {
    it("a Spot warning by its request's interruption codes, not by fulfilled or a user's own stop or termination", () => {
        for (const code of ["marked-for-termination", "marked-for-stop", "instance-terminated-no-capacity", "instance-terminated-by-price", "instance-stopped-no-capacity"]) {
            expect(confirms(notice("spot-interruption"), worker(), evidence(code)), code).to.equal(true);
        }
        for (const code of [undefined, "fulfilled", "instance-stopped-by-user", "instance-terminated-by-user", "request-canceled-and-instance-running"]) {
            expect(confirms(notice("spot-interruption"), worker(), evidence(code)), String(code)).to.equal(false);
        }
    });

    it("a scheduled change by an event that is not over; a rebalance recommendation for a Spot Instance only", () => {
        expect(confirms(notice("scheduled-change"), worker(), evidence(undefined, ["instance-retirement"]))).to.equal(true);
        expect(confirms(notice("scheduled-change"), worker(), evidence())).to.equal(false);
        expect(confirms(notice("rebalance-recommendation"), worker(true), evidence())).to.equal(true);
        expect(confirms(notice("rebalance-recommendation"), worker(false), evidence())).to.equal(false);
    });

    it("asks only about signals that would drain the run EC2 shows; acts at once on one of an earlier run", () => {
        const earlier = notice("spot-interruption", "2026-11-30T23:59:00.000Z");
        const signal = (n: DrainNotice, receiveCount = 1): SignalOf => ({ messageId: `m-${n.cause}-${receiveCount}`, notice: n, receiveCount });
        expect(toAsk([{ instance: worker(), drains: [signal(earlier)] }])).to.deep.equal({ spot: [], scheduled: [] });
        expect(toAsk([{ instance: worker(), drains: [signal(notice("spot-interruption")), signal(notice("scheduled-change"))] }]))
            .to.deep.equal({ spot: [worker().instanceId], scheduled: [worker().instanceId] });
        const split = weigh([signal(earlier), signal(notice("scheduled-change"), 1), signal(notice("spot-interruption"), CONFIRM_DELIVERIES)], worker(), evidence());
        expect(split.acted.map(s => s.notice)).to.deep.equal([earlier]);
        expect(split.confirming.map(s => s.notice.cause)).to.deep.equal(["scheduled-change"]);
        expect(split.dismissed.map(s => s.notice.cause)).to.deep.equal(["spot-interruption"]);
    });

    it("gives an unconfirmed signal its deliveries within a fifth of a Spot warning's two minutes", () => {
        const waited = Array.from({ length: CONFIRM_DELIVERIES - 1 }, (_, i) => confirmationDelay(i + 1)).reduce((a, b) => a + b, 0);
        expect(waited).to.equal(15);
        expect(waited * 1000).to.be.at.most(SPOT_WARNING_MS / 5);
    });
});
