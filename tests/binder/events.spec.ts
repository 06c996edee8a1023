// The events the rules send, as AWS documents them (tests/fixtures/events): each parses
// to what the binder must do, each matches its own rule's pattern and no other, and every
// malformed variation is refused with a reason that names the field.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { isNamedError } from "../../binder/errors";
import { DRAIN_REASONS, InstanceEvent, MALFORMED, readEvent } from "../../binder/events";
import { DRAIN_RULES, EVENT_PATTERN } from "../../infra/events";

const FIXTURES = path.join(__dirname, "..", "fixtures", "events");
const fixture = (name: string): any => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), "utf8"));

/**
 * Whether `event` matches `pattern`, for the part of EventBridge's pattern syntax the
 * rules use: nested objects of fields, each a list of exact values, one of which the
 * event's field must equal (or, for a list in the event, one of its items).
 */
function matches(pattern: Record<string, unknown>, event: unknown): boolean {
    if (typeof event !== "object" || event === null) return false;
    return Object.entries(pattern).every(([field, wanted]) => {
        const value = (event as Record<string, unknown>)[field];
        if (Array.isArray(wanted)) {
            if (wanted.some(w => typeof w === "object" && w !== null)) throw new Error(`the matcher has no content filters: ${JSON.stringify(wanted)}`);
            return (Array.isArray(value) ? value : [value]).some(v => wanted.includes(v));
        }
        return matches(wanted as Record<string, unknown>, value);
    });
}

const RULES: Record<string, Record<string, unknown>> = {
    "instance-state": EVENT_PATTERN,
    ...Object.fromEntries(DRAIN_REASONS.map(reason => [reason, DRAIN_RULES[reason].pattern])),
};

/** Each fixture, its rule, and what it tells the binder. */
const PARSED: [string, string, InstanceEvent[]][] = [
    ["state-change", "instance-state", [{ kind: "state", instanceId: "i-0123456789abcdef0", state: "running" }]],
    ["spot-interruption", "spot-interruption", [{
        kind: "drain", instanceId: "i-0123456789abcdef0", reason: "spot-interruption",
        signalledAt: "2026-12-03T10:00:00.000Z", deadline: "2026-12-03T10:02:00.000Z",
    }]],
    ["rebalance-recommendation", "rebalance-recommendation", [{
        kind: "drain", instanceId: "i-0123456789abcdef0", reason: "rebalance-recommendation", signalledAt: "2026-12-03T09:55:00.000Z",
    }]],
    ["scheduled-change-retirement", "scheduled-change", [{
        kind: "drain", instanceId: "i-1234567890abcdef0", reason: "scheduled-change",
        signalledAt: "2026-01-27T01:43:21.000Z", deadline: "2026-08-27T13:19:03.000Z",
    }]],
    ["scheduled-change-two-instances", "scheduled-change", ["i-0123456789abcdef0", "i-0fedcba9876543210"].map(instanceId => ({
        kind: "drain" as const, instanceId, reason: "scheduled-change" as const,
        signalledAt: "2026-12-03T10:00:00.000Z", deadline: "2026-12-17T10:00:00.000Z",
    }))],
    ["scheduled-change-closed", "scheduled-change", []],
];

/** The reason readEvent refuses `event` with; fails when it does not refuse it. */
function refusal(event: unknown): string {
    try {
        readEvent(event);
    } catch (err) {
        expect(isNamedError(err, MALFORMED), String(err)).to.equal(true);
        return (err as Error).message;
    }
    throw new Error(`expected ${JSON.stringify(event).slice(0, 200)} to be refused`);
}

/** A deep copy of a fixture with `change` applied. */
const variant = (name: string, change: (event: any) => void) => {
    const event = fixture(name);
    change(event);
    return event;
};

describe("events", () => {
    describe("the fixtures, as AWS documents them", () => {
        it("has one fixture per rule, and each fixture is listed in the folder's README", () => {
            const files = fs.readdirSync(FIXTURES).filter(f => f.endsWith(".json")).map(f => f.slice(0, -5)).sort();
            expect(files).to.deep.equal(PARSED.map(([name]) => name).sort());
            expect(new Set(PARSED.map(([, rule]) => rule))).to.deep.equal(new Set(Object.keys(RULES)));
            const readme = fs.readFileSync(path.join(FIXTURES, "README.md"), "utf8");
            for (const name of files) expect(readme, name).to.include(`${name}.json`);
        });

        for (const [name, rule, expected] of PARSED) {
            it(`reads ${name}.json as ${expected.length === 0 ? "nothing to do" : expected.map(e => e.kind === "state" ? e.state : e.reason).join(", ")}`, () => {
                expect(readEvent(fixture(name))).to.deep.equal(expected);
            });

            it(`matches ${name}.json with the ${rule} rule's pattern, and with no other rule's`, () => {
                const matched = Object.entries(RULES).filter(([, pattern]) => matches(pattern, fixture(name))).map(([r]) => r);
                expect(matched).to.deep.equal([rule]);
            });
        }
    });

    describe("the rules' patterns", () => {
        it("are the patterns AWS documents for each event", () => {
            expect(DRAIN_RULES["spot-interruption"].pattern).to.deep.equal({ "source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"] });
            expect(DRAIN_RULES["rebalance-recommendation"].pattern).to.deep.equal({ "source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"] });
            expect(DRAIN_RULES["scheduled-change"].pattern).to.deep.equal({
                "source": ["aws.health"], "detail-type": ["AWS Health Event"], "detail": { service: ["EC2"], eventTypeCategory: ["scheduledChange"] },
            });
        });

        it("leave out Health events of other services and other categories, and states the binder does not act on", () => {
            const health = DRAIN_RULES["scheduled-change"].pattern;
            expect(matches(health, variant("scheduled-change-retirement", e => { e.detail.service = "RDS"; }))).to.equal(false);
            expect(matches(health, variant("scheduled-change-retirement", e => { e.detail.eventTypeCategory = "issue"; }))).to.equal(false);
            expect(matches(health, variant("scheduled-change-retirement", e => { e["detail-type"] = "AWS Health Abuse Event"; }))).to.equal(false);
            expect(matches(EVENT_PATTERN, variant("state-change", e => { e.detail.state = "pending"; }))).to.equal(false);
        });
    });

    describe("drain signals", () => {
        it("gives a hibernating Spot Instance no two minutes: hibernation begins at once", () => {
            const [signal] = readEvent(variant("spot-interruption", e => { e.detail["instance-action"] = "hibernate"; }));
            expect(signal).to.deep.include({ signalledAt: "2026-12-03T10:00:00.000Z", deadline: "2026-12-03T10:00:00.000Z" });
        });

        it("still drains on a Spot warning whose instance-action is stop, missing or new", () => {
            for (const action of ["stop", undefined, "something-new"]) {
                const [signal] = readEvent(variant("spot-interruption", e => { e.detail["instance-action"] = action; }));
                expect(signal, String(action)).to.deep.include({ reason: "spot-interruption", deadline: "2026-12-03T10:02:00.000Z" });
            }
        });

        it("reads EventBridge times with a fraction or an offset", () => {
            const [signal] = readEvent(variant("spot-interruption", e => { e.time = "2026-12-03T11:00:00.250+01:00"; }));
            expect(signal).to.deep.include({ signalledAt: "2026-12-03T10:00:00.250Z", deadline: "2026-12-03T10:02:00.250Z" });
        });

        it("takes a Health event's instances as ids or ARNs, from its entities and its resources, each once", () => {
            const event = variant("scheduled-change-two-instances", e => {
                e.detail.affectedEntities[1].entityValue = "arn:aws:ec2:us-west-2:123456789012:instance/i-0fedcba9876543210";
                e.resources.push("i-0aaaaaaaaaaaaaaaa");
            });
            expect(readEvent(event).map(s => s.instanceId)).to.deep.equal(["i-0123456789abcdef0", "i-0fedcba9876543210", "i-0aaaaaaaaaaaaaaaa"]);
            const resourcesOnly = variant("scheduled-change-two-instances", e => { delete e.detail.affectedEntities; });
            expect(readEvent(resourcesOnly).map(s => s.instanceId)).to.deep.equal(["i-0123456789abcdef0", "i-0fedcba9876543210"]);
        });

        it("skips a Health entity that is no instance when another is one", () => {
            const event = variant("scheduled-change-two-instances", e => {
                e.detail.affectedEntities[0].entityValue = "arn:aws:ec2:us-west-2:123456789012:dedicated-host/h-0123456789abcdef0";
                e.resources = [];
            });
            expect(readEvent(event).map(s => s.instanceId)).to.deep.equal(["i-0fedcba9876543210"]);
        });

        it("drains nothing for an entity Health reports RESOLVED, while the event is still open", () => {
            const event = variant("scheduled-change-two-instances", e => {
                e.detail.statusCode = "open";
                e.detail.affectedEntities[0].status = "RESOLVED";
            });
            expect(readEvent(event).map(s => s.instanceId)).to.deep.equal(["i-0fedcba9876543210"]);
            const allResolved = variant("scheduled-change-two-instances", e => { for (const entity of e.detail.affectedEntities) entity.status = "RESOLVED"; });
            expect(readEvent(allResolved)).to.deep.equal([]);
        });

        it("drains nothing for a closed Health event, whatever it names", () => {
            expect(readEvent(variant("scheduled-change-closed", e => { delete e.detail.affectedEntities; delete e.resources; }))).to.deep.equal([]);
        });

        it("reads Health's times with one-digit days, ignoring the day of the week (AWS's own samples get it wrong)", () => {
            const [signal] = readEvent(variant("scheduled-change-retirement", e => { e.detail.startTime = "Mon, 3 Aug 2026 05:01:10 GMT"; }));
            expect(signal).to.deep.include({ deadline: "2026-08-03T05:01:10.000Z" });
        });
    });

    describe("malformed events", () => {
        const refused: [string, unknown, RegExp][] = [
            ["an event that is not an object", "running", /the event is not an object/],
            ["an unknown source", variant("state-change", e => { e.source = "aws.autoscaling"; }), /^source is "aws.autoscaling", expected "aws.ec2" or "aws.health"/],
            ["an EC2 event of another detail-type", variant("state-change", e => { e["detail-type"] = "EC2 Fast Launch State-change Notification"; }), /^detail-type is "EC2 Fast Launch State-change Notification", expected one of/],
            ["a Health event of another detail-type", variant("scheduled-change-retirement", e => { e["detail-type"] = "AWS Health Abuse Event"; }), /^detail-type is "AWS Health Abuse Event", expected "AWS Health Event"/],
            ["a state change without detail", variant("state-change", e => { delete e.detail; }), /the event has no detail/],
            ["a state change with a bad instance id", variant("state-change", e => { e.detail["instance-id"] = "i-XYZ"; }), /^detail.instance-id is "i-XYZ", not an instance id/],
            ["a state change without a state", variant("state-change", e => { delete e.detail.state; }), /^detail.state is undefined, not an instance state/],
            ["a Spot warning without an instance id", variant("spot-interruption", e => { delete e.detail["instance-id"]; }), /^detail.instance-id is undefined, not an instance id/],
            ["a Spot warning whose instance id is an ARN", variant("spot-interruption", e => { e.detail["instance-id"] = e.resources[0]; }), /^detail.instance-id is "arn:aws:ec2:us-west-2a:instance\/i-0123456789abcdef0", not an instance id/],
            ["a Spot warning without a time", variant("spot-interruption", e => { delete e.time; }), /^time is undefined, not a time/],
            ["a Spot warning with the docs' placeholder time", variant("spot-interruption", e => { e.time = "yyyy-mm-ddThh:mm:ssZ"; }), /^time is "yyyy-mm-ddThh:mm:ssZ", not a time/],
            ["a Spot warning on 30 February", variant("spot-interruption", e => { e.time = "2026-02-30T10:00:00Z"; }), /^time is "2026-02-30T10:00:00Z", not a time/],
            ["a rebalance recommendation with a bad instance id", variant("rebalance-recommendation", e => { e.detail["instance-id"] = 42; }), /^detail.instance-id is 42, not an instance id/],
            ["a rebalance recommendation without a time", variant("rebalance-recommendation", e => { e.time = ""; }), /^time is "", not a time/],
            ["a Health event for another service", variant("scheduled-change-retirement", e => { e.detail.service = "RDS"; }), /^detail.service is "RDS", expected "EC2"/],
            ["a Health event that is not a scheduled change", variant("scheduled-change-retirement", e => { e.detail.eventTypeCategory = "issue"; }), /^detail.eventTypeCategory is "issue", expected "scheduledChange"/],
            ["a Health event without a status", variant("scheduled-change-retirement", e => { delete e.detail.statusCode; }), /^detail.statusCode is undefined, expected one of upcoming, open, closed/],
            ["a Health event with an unknown status", variant("scheduled-change-retirement", e => { e.detail.statusCode = "OPEN"; }), /^detail.statusCode is "OPEN", expected one of upcoming, open, closed/],
            ["a Health event that names no instance", variant("scheduled-change-two-instances", e => {
                e.detail.affectedEntities = [{ entityValue: "arn:aws:ec2:us-west-2:123456789012:dedicated-host/h-0123456789abcdef0" }, { entityValue: "i-XYZ" }];
                e.resources = ["h-0123456789abcdef0"];
            }), /^detail.affectedEntities and resources name no instance id \(they name "arn:aws:ec2:us-west-2:123456789012:dedicated-host\/h-0123456789abcdef0", "i-XYZ", "h-0123456789abcdef0"\)/],
            ["a Health event with no entities or resources", variant("scheduled-change-retirement", e => { e.detail.affectedEntities = []; }), /^detail.affectedEntities and resources name no instance id \(they name nothing\)/],
            ["a Health event whose entities are not a list", variant("scheduled-change-retirement", e => { e.detail.affectedEntities = { entityValue: "i-0123456789abcdef0" }; }), /^detail.affectedEntities is .*, not a list/],
            ["a Health event whose resources are not a list", variant("scheduled-change-two-instances", e => { e.resources = "i-0123456789abcdef0"; }), /^resources is "i-0123456789abcdef0", not a list/],
            ["a Health event without a start time", variant("scheduled-change-retirement", e => { delete e.detail.startTime; }), /^detail.startTime is undefined, not a time/],
            ["a Health event with an unparseable start time", variant("scheduled-change-retirement", e => { e.detail.startTime = "next Thursday"; }), /^detail.startTime is "next Thursday", not a time/],
            ["a Health event starting on 31 February", variant("scheduled-change-retirement", e => { e.detail.startTime = "Tue, 31 Feb 2026 10:00:00 GMT"; }), /^detail.startTime is "Tue, 31 Feb 2026 10:00:00 GMT", not a time/],
            ["a Health event without a time", variant("scheduled-change-retirement", e => { e.time = 1769478201; }), /^time is 1769478201, not a time/],
        ];
        for (const [what, event, reason] of refused) {
            it(`refuses ${what}`, () => {
                expect(refusal(event)).to.match(reason);
            });
        }
    });
});
