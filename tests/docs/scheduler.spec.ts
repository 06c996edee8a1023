// docs/scheduler.md as written: the requests it shows are the ones the client sends
// (scheduler/requests.ts), but for the attribute-name map it leaves out.
import { expect } from "chai";
import * as path from "path";
import { claimFree, offersQuery } from "../../scheduler/requests";
import { jsonBlockAfter } from "../support/iam/markdown";

const DOC = path.join(__dirname, "..", "..", "docs", "scheduler.md");
const TABLE = "<serversTable>";

describe("the scheduler's requests (docs/scheduler.md)", () => {
    it("shows the offers query the client sends for a zone", () => {
        const { ExpressionAttributeNames: names, ...sent } = offersQuery(TABLE, "free", { availabilityZone: "us-east-1a" });
        const { ExpressionAttributeNames: documentedNames, ...documented } = jsonBlockAfter(DOC, "Find free servers in `us-east-1a` (Query, paginate on `LastEvaluatedKey`):");
        expect(documented).to.deep.equal(sent);
        expect(documentedNames).to.deep.equal(names);
    });

    it("shows the claim the client sends for a free server, with an owner, a lease and metadata", () => {
        const run = { publicIp: "203.0.113.7", dnsName: "203-0-113-7.live.example.com", instanceId: "i-0abc", launchedAt: "2026-12-08T00:00:00.000Z" };
        const { ExpressionAttributeNames: _names, ...sent } = claimFree(TABLE, run,
            { owner: "scheduler-7", capacity: 1, leaseUntil: "2026-12-08T00:06:00.000Z", metadata: { stream: "match-42" } }, "2026-12-08T00:05:00.000Z");
        const documented = jsonBlockAfter(DOC, "Claim a free one (one stream, owner, lease, metadata):");
        expect(documented).to.deep.equal(sent);
    });
});
