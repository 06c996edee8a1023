// The EC2 stand-in, counting what the naive binder's AllowReassociation does
// silently: take an address off another instance, or replace an instance's own.
import { AssociateRequest, Ec2Model } from "../tests/support/aws/ec2";

export class CountingEc2Model extends Ec2Model {
    /** Associations that took an address away from another instance. */
    steals = 0;
    /** Associations that pushed an address off the instance's own private IP. */
    displaced = 0;

    override associateAddress(request: AssociateRequest): string {
        const before = this.addresses();
        const associationId = super.associateAddress(request);
        const after = this.addresses();
        const mine = after.find(a => a.association?.associationId === associationId)!;
        const was = before.find(a => a.allocationId === mine.allocationId)?.association;
        if (was && was.instanceId !== mine.association!.instanceId) this.steals++;
        const lost = before.filter(a => a.association && a.association.instanceId === mine.association!.instanceId
            && a.allocationId !== mine.allocationId && !after.find(b => b.allocationId === a.allocationId)?.association);
        this.displaced += lost.length;
        return associationId;
    }
}
