// What the preview warns about without failing.
import { expect } from "chai";
import { parseSettings } from "../../binder/config";
import { previewWarnings, quotaAlarmThreshold, sharedQuotaWarnings } from "../../infra/guardrails";
import { parsePools } from "../../infra/pools";
import { stackLookup } from "../support/config";

const settings = (stack: string, overrides: Record<string, unknown> = {}) =>
    parseSettings(stackLookup(stack, overrides));

describe("preview warnings", () => {
    it("says nothing for the dev and prod stacks as configured", () => {
        expect(previewWarnings(settings("dev"), 0)).to.deep.equal([]);
        expect(previewWarnings(settings("prod"), 0)).to.deep.equal([]);
    });

    it("warns when the pool and the addresses tagged elsewhere exceed the Elastic IP quota", () => {
        expect(previewWarnings(settings("dev"), 6)).to.deep.equal([]);
        const [warning, ...rest] = previewWarnings(settings("dev"), 7);
        expect(rest).to.deep.equal([]);
        expect(warning).to.match(/^eip-dns-binder:addressQuota: the pool would hold 11 addresses \(poolSize 4 plus 7 tagged elsewhere\), more than the quota of 10/);
    });

    it("without addressQuota, warns past AWS's default quota of 5 and asks for the account's own", () => {
        expect(previewWarnings(settings("dev", { addressQuota: undefined }), 1)).to.deep.equal([]);
        expect(previewWarnings(settings("prod", { addressQuota: undefined }), 0)[0])
            .to.match(/^eip-dns-binder:addressQuota is not set, and the pool would hold 40 addresses .* more than AWS's default Elastic IP quota of 5\. If the account's quota was raised, set addressQuota/);
    });

    it("warns when vpcIds is not set", () => {
        expect(previewWarnings(settings("dev", { vpcIds: undefined }), 0)).to.deep.equal([
            "eip-dns-binder:vpcIds is not set: the functions may put a pool address on a network interface in any VPC of the account. Set it to the cluster's VPC ids.",
        ]);
    });

    it("alarms at 90% of the quota, at least at one address", () => {
        expect([1, 5, 10, 60].map(quotaAlarmThreshold)).to.deep.equal([1, 4, 9, 54]);
    });

    it("warns when the pools together outgrow the quota they share, though each stays under it", () => {
        const pools = (overrides: Record<string, unknown>) => parsePools(stackLookup("dev", overrides));
        const edge = (poolSize: number) => ({ pools: { edge: { instanceTags: { "karpenter.sh/nodepool": "edge" }, addressTags: { pool: "edge" }, poolSize } } });
        expect(sharedQuotaWarnings(pools({}))).to.deep.equal([]);
        expect(sharedQuotaWarnings(pools(edge(6)))).to.deep.equal([]);
        const both = pools(edge(7));
        expect(both.flatMap(pool => previewWarnings(pool.settings, 0, pool.key))).to.deep.equal([]);
        expect(sharedQuotaWarnings(both)).to.deep.equal([
            "the pools together allocate 11 addresses (poolSize: default 4, edge 7), more than eip-dns-binder:addressQuota, 10: the account's quota in the Region is "
            + "shared by all of them, and allocation fails past it. Raise the quota in Service Quotas (Amazon EC2, EC2-VPC Elastic IPs), or lower poolSize.",
        ]);
        expect(sharedQuotaWarnings(pools({ ...edge(2), addressQuota: undefined }))[0]).to.match(/^the pools together allocate 6 addresses .* more than AWS's default Elastic IP quota of 5:/);
    });
});
