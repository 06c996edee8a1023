// The scheduler's IAM policy (scheduler/policy.ts, the stack output `schedulerPolicy`),
// evaluated in the offline IAM simulator: every call the client sends, and a stream
// reader's, allowed on the stack's own table, index and stream; what the client never
// does, or does elsewhere, refused; and each widened copy of the policy caught.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { StackRun, runStack } from "../../tools/mock-stack";
import { mutants } from "../support/iam/mutants";
import { ACCOUNT, Authorization, decide, PolicyDocument } from "../support/iam/simulate";

const ROLE = `arn:aws:iam::${ACCOUNT}:role/stream-scheduler`;

/** The SDK commands the client sends: its one file that speaks to AWS. */
function clientCommands(): string[] {
    const source = fs.readFileSync(path.join(__dirname, "..", "..", "scheduler", "dynamodb.ts"), "utf8");
    return [...new Set([...source.matchAll(/new (\w+)Command\(/g)].map(match => match[1]))].sort();
}

describe("the scheduler's IAM policy, simulated", function () {
    this.timeout(120_000);
    let run: StackRun;
    let policy: PolicyDocument;
    let table: string;
    let stream: string;
    before(async () => {
        run = await runStack("dev");
        policy = JSON.parse(run.outputs.schedulerPolicy);
        table = run.outputs.serversStream.split("/stream/")[0];
        stream = run.outputs.serversStream;
    });

    /** Every call the client and a stream reader make, as AWS authorizes them. */
    const needed = (): Authorization[] => [
        ...clientCommands().map(command => ({ action: `dynamodb:${command}`, resource: command === "Query" ? `${table}/index/offers` : table })),
        ...["DescribeStream", "GetRecords", "GetShardIterator"].map(action => ({ action: `dynamodb:${action}`, resource: stream })),
        { action: "dynamodb:ListStreams", resource: "*" },
    ];

    /** What it must never be allowed: writes the client never makes, and anything on another table, index or stream. */
    const forbidden = (): Authorization[] => {
        const claims = table.replace(/servers-\d+$/, "claims-1");
        const other = `arn:aws:dynamodb:us-west-2:${ACCOUNT}:table/orders`;
        return [
            ...["PutItem", "DeleteItem", "Scan", "BatchWriteItem", "BatchGetItem", "ConditionCheckItem", "DeleteTable", "UpdateTable", "DescribeTable"].map(action => ({ action: `dynamodb:${action}`, resource: table })),
            ...["GetItem", "UpdateItem", "PutItem", "DeleteItem", "Query", "Scan"].flatMap(action => [claims, other].map(resource => ({ action: `dynamodb:${action}`, resource }))),
            { action: "dynamodb:Query", resource: `${claims}/index/waitlist` },
            { action: "dynamodb:Query", resource: `${table}/index/other` },
            { action: "dynamodb:Scan", resource: `${table}/index/offers` },
            { action: "dynamodb:Query", resource: table },
            { action: "dynamodb:GetRecords", resource: `${other}/stream/2026-12-08T00:00:00.000` },
        ];
    };

    async function wrongly(document: PolicyDocument): Promise<string[]> {
        const wrong: string[] = [];
        for (const request of needed()) if (await decide(ROLE, request, { identity: [document] }) !== "Allowed") wrong.push(`refused ${request.action} on ${request.resource}`);
        for (const request of forbidden()) if (await decide(ROLE, request, { identity: [document] }) === "Allowed") wrong.push(`allowed ${request.action} on ${request.resource}`);
        return wrong;
    }

    it("covers exactly the commands the client sends", () => {
        expect(clientCommands()).to.deep.equal(["GetItem", "Query", "UpdateItem"]);
    });

    it("allows every call the client and a stream reader make on the stack's table, and nothing it must not", async () => {
        expect(await wrongly(policy)).to.deep.equal([]);
    });

    it("catches every widened copy of the policy", async () => {
        // DescribeStream, GetRecords and GetShardIterator are all DynamoDB does on a stream: that widening grants nothing more.
        const copies = mutants(policy).filter(mutant => mutant.change !== "FollowServers: Action widened to dynamodb:*");
        expect(copies.length).to.be.at.least(6);
        for (const { change, policy: widened } of copies) expect(await wrongly(widened), change).to.not.deep.equal([]);
    });
});
