// Reading an SQS batch into work per instance (a pure helper, tested on its own).
import { expect } from "chai";
import { readBatch } from "../../binder/batch";
import { queueBatch, stateChange } from "../support/world";

const A = "i-0aaaaaaaaaaaaaaa1";
const B = "i-0bbbbbbbbbbbbbbb2";
const C = "i-0ccccccccccccccc3";

describe("reading a batch", () => {
    it("gives each instance one piece of work, carrying every message of its events", () => {
        const batch = queueBatch(stateChange(A, "running"), stateChange(B, "running"), stateChange(A, "running"));
        const ids = batch.Records.map(r => r.messageId as string);
        expect(readBatch(batch)).to.deep.equal({
            instances: [
                { instanceId: A, states: [{ messageId: ids[0], state: "running" }, { messageId: ids[2], state: "running" }], drains: [], messageIds: [ids[0], ids[2]] },
                { instanceId: B, states: [{ messageId: ids[1], state: "running" }], drains: [], messageIds: [ids[1]] },
            ],
            ignored: [],
            idle: [],
            dropped: [],
            receipts: new Map(ids.map(id => [id, { receiptHandle: `handle-${id}`, receiveCount: 1 }])),
        });
    });

    it("keeps each message's receipt handle and receive count, for handing it back early", () => {
        const batch = queueBatch(stateChange(A, "running"), stateChange(B, "running"), stateChange(C, "running"), stateChange(A, "terminated"));
        const [a, b, c, dropped] = batch.Records;
        a.attributes = { ApproximateReceiveCount: "3" };
        b.attributes = { ApproximateReceiveCount: "soon" };
        delete c.receiptHandle;
        dropped.body = "not json";
        const { receipts } = readBatch(batch);
        expect([...receipts]).to.deep.equal([
            [a.messageId, { receiptHandle: a.receiptHandle, receiveCount: 3 }],
            [b.messageId, { receiptHandle: b.receiptHandle, receiveCount: 1 }],
            [dropped.messageId, { receiptHandle: dropped.receiptHandle, receiveCount: 1 }],
        ]);
    });

    it("keeps every state of one instance's events together, whatever the order, for EC2 to settle", () => {
        for (const order of [["running", "terminated"], ["shutting-down", "running"]]) {
            const work = readBatch(queueBatch(...order.map(state => stateChange(A, state))));
            expect(work.instances.map(w => [w.instanceId, w.states.map(s => s.state)]), order.join(",")).to.deep.equal([[A, order]]);
        }
    });

    it("sets states that announce nothing aside, unless the instance has other work", () => {
        const work = readBatch(queueBatch(stateChange(A, "pending"), stateChange(B, "pending"), stateChange(B, "stopped"), stateChange(C, "terminated")));
        expect(work.ignored.map(w => w.instanceId)).to.deep.equal([A]);
        expect(work.instances.map(w => w.instanceId)).to.deep.equal([B, C]);
    });

    it("drops malformed messages with the reason, and keeps the rest", () => {
        const batch = queueBatch(stateChange(A, "running"), stateChange("i-nope", "running"));
        batch.Records.push({ messageId: "m-text", body: "not json" }, { body: "{}" }, { messageId: "m-number", body: 42 });
        const work = readBatch(batch);
        expect(work.instances.map(w => w.instanceId)).to.deep.equal([A]);
        expect(work.dropped.map(({ messageId, reason }) => ({ messageId, reason }))).to.deep.equal([
            { messageId: batch.Records[1].messageId, reason: 'detail.instance-id is "i-nope", not an instance id' },
            { messageId: "m-text", reason: "the message body is not JSON" },
            { messageId: undefined, reason: "the record has no messageId" },
            { messageId: "m-number", reason: "the message body is not a string" },
        ]);
    });

    it("refuses a payload that is not an SQS batch", () => {
        for (const event of [null, {}, stateChange(A, "running"), { Records: "x" }]) {
            expect(() => readBatch(event), JSON.stringify(event)).to.throw("the event is not an SQS batch (it has no Records list)");
        }
    });
});
