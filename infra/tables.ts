import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CLAIM_KEY, OFFER_INDEX, SERVER_KEY, WAITLIST_INDEX } from "../binder/schema";
import { Owner } from "./owner";

/** The scheduler's view of the servers and the binder's private bookkeeping. */
export interface Tables {
    servers: aws.dynamodb.Table;
    claims: aws.dynamodb.Table;
}

/** The tables, under `kmsKeyArn` when it is set (an update in place either way), else DynamoDB's own key as before. */
export function tables(owner: Owner, deletionProtection: boolean, kmsKeyArn?: pulumi.Input<string>): Tables {
    const common = {
        billingMode: "PAY_PER_REQUEST",
        pointInTimeRecovery: { enabled: true },
        deletionProtectionEnabled: deletionProtection,
        ...(kmsKeyArn && { serverSideEncryption: { enabled: true, kmsKeyArn } }),
    };

    // The servers table is the contract with the scheduler: one row per bound server,
    // keyed by its public IP and DNS name, written only by the binder at run time. Its
    // stream (old and new images) lets a scheduler react the moment a server comes or goes;
    // turning it on updates the table in place. Its offers index lists the servers a
    // scheduler may allocate, by placement (sparse: a leaving server has no offer); an
    // index added to an existing table is an update in place too.
    const servers = new aws.dynamodb.Table(owner.name("servers"), {
        ...common,
        streamEnabled: true,
        streamViewType: "NEW_AND_OLD_IMAGES",
        hashKey: SERVER_KEY.partition,
        rangeKey: SERVER_KEY.sort,
        attributes: [SERVER_KEY.partition, SERVER_KEY.sort, OFFER_INDEX.partition, OFFER_INDEX.sort].map(name => ({ name, type: "S" })),
        globalSecondaryIndexes: [{
            name: OFFER_INDEX.name,
            keySchemas: [{ attributeName: OFFER_INDEX.partition, keyType: "HASH" }, { attributeName: OFFER_INDEX.sort, keyType: "RANGE" }],
            projectionType: "ALL",
        }],
    }, { parent: owner.parent });

    // The claims table holds one item per instance being bound, so that duplicate or
    // concurrent events for one instance agree on a single address (a conditional write).
    // Its waitlist index holds only the workers waiting for an address, longest first; an
    // index added to an existing table is an update in place (the table stays).
    const claims = new aws.dynamodb.Table(owner.name("claims"), {
        ...common,
        hashKey: CLAIM_KEY,
        attributes: [CLAIM_KEY, WAITLIST_INDEX.partition, WAITLIST_INDEX.sort].map(name => ({ name, type: "S" })),
        globalSecondaryIndexes: [{
            name: WAITLIST_INDEX.name,
            keySchemas: [{ attributeName: WAITLIST_INDEX.partition, keyType: "HASH" }, { attributeName: WAITLIST_INDEX.sort, keyType: "RANGE" }],
            projectionType: "ALL",
        }],
    }, { parent: owner.parent });

    return { servers, claims };
}
