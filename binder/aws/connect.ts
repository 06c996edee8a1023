// The AWS layer for one cold start (or one CLI run): the SDK clients, with region,
// credentials and endpoints from the environment, behind the wrappers the binder
// works through. Outside binder/aws/ nothing builds a client or names the SDK.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { BinderSettings } from "../config";
import { createClients, createOperatorClients, createQueueClient, OperatorReach } from "./clients";
import { Dns } from "./dns";
import { Ec2 } from "./ec2";
import { EventQueue } from "./queue";
import { Store } from "./store";

/** What a Context reaches AWS through. */
export interface AwsLayer {
    ec2: Ec2;
    store: Store;
    dns: Dns;
}

/** Makes the Store over the stack's tables; a bench baseline swaps in one of its own. */
export type StoreFactory = (dynamodb: DynamoDBClient, settings: BinderSettings) => Store;

/** The Store the binder ships with. */
export const tablesStore: StoreFactory = (dynamodb, settings) => new Store(dynamodb, settings.serversTable, settings.claimsTable);

export interface ConnectOptions {
    /** The Store to use; tablesStore unless given. */
    store?: StoreFactory;
    /** For the operator CLI: its Region and timeouts; else region and endpoints come from the environment. */
    reach?: OperatorReach;
}

/** The AWS layer over one set of clients, and `close` to free their connections. */
export function connect(settings: BinderSettings, options: ConnectOptions = {}): { layer: AwsLayer; close: () => void } {
    const clients = options.reach ? createOperatorClients(options.reach) : createClients();
    const makeStore = options.store ?? tablesStore;
    return {
        layer: {
            ec2: new Ec2(clients.ec2),
            store: makeStore(clients.dynamodb, settings),
            dns: new Dns(clients.route53, settings.hostedZoneId, settings.dnsTtl, settings.stack),
        },
        close: () => {
            clients.ec2.destroy();
            clients.route53.destroy();
            clients.dynamodb.destroy();
        },
    };
}

/** The binder's event queue at `url`, for handing messages back early; the reconciler and the hooks make none. */
export function connectEventQueue(url: string): EventQueue {
    return new EventQueue(createQueueClient(), url);
}
