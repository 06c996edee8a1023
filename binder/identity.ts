// Who calls a node hook. A function URL with AWS_IAM auth checks the caller's
// SigV4 signature and hands the function the identity it authenticated
// (requestContext.authorizer.iam). A worker calls with its instance profile's
// credentials: a session of its node role that EC2 names after the instance,
// arn:aws:sts::<account>:assumed-role/<role name>/<instance id>. Nobody but a
// principal the role's trust policy admits can make a session of the role, and a
// node role's trust policy admits only ec2.amazonaws.com, so the session name is
// EC2's word for which instance calls (docs/node-hooks.md, "Trust model").

/** An IAM role's ARN, with or without a path: arn:aws:iam::123456789012:role/optional/path/name. */
export const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/((?:[\w+=,.@-]+\/)*)([\w+=,.@-]{1,64})$/;

/** EC2's instance ids: `i-` and 8 or 17 hexadecimal digits. */
export const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** A role session's ARN. It names the role without its path. */
const ASSUMED_ROLE = /^arn:(aws|aws-cn|aws-us-gov):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/([\w+=,.@-]+)$/;

/** The function's own ARN, as Lambda's context gives it (a qualifier may follow). */
const FUNCTION_ARN = /^arn:(aws|aws-cn|aws-us-gov):lambda:[a-z0-9-]+:(\d{12}):function:/;

/** A node role: its account and its name, which is all a session's ARN says of it. */
export interface NodeRole {
    partition: string;
    account: string;
    name: string;
}

/** The role a role ARN names; undefined for anything else (ROLE_ARN tells them apart). */
export function nodeRole(arn: string): NodeRole | undefined {
    const match = ROLE_ARN.exec(arn);
    return match ? { partition: match[1], account: match[2], name: match[4] } : undefined;
}

/** The account a function runs in, from its ARN: the only account whose workers it serves. */
export interface Account {
    partition: string;
    account: string;
}

export function accountOf(functionArn: string | undefined): Account | undefined {
    const match = functionArn === undefined ? null : FUNCTION_ARN.exec(functionArn);
    return match ? { partition: match[1], account: match[2] } : undefined;
}

/** What a function URL with AWS_IAM auth says of the caller (payload format 2.0). */
export interface IamIdentity {
    accessKey?: string;
    accountId?: string;
    callerId?: string;
    userArn?: string;
    userId?: string;
}

/** A worker calling about itself: the instance its credentials are named after, and its node role. */
export interface Caller {
    instanceId: string;
    role: string;
    arn: string;
}

export type Identity = { caller: Caller } | { refused: string };

/** What a caller's ARN is, when it is not a role session: said in the refusal. */
function kindOf(arn: string): string {
    if (/:iam::\d{12}:user\//.test(arn)) return "an IAM user";
    if (/:sts::\d{12}:federated-user\//.test(arn)) return "a federated user";
    if (/:iam::\d{12}:root$/.test(arn)) return "the account's root user";
    return "not a role session";
}

/**
 * Accepts only a session of one of `roles`, in the function's own account,
 * named after an instance; anything else is refused with the reason. Roles are
 * compared by account and name: a session's ARN carries no path, and role names
 * are unique in an account, whatever their paths.
 */
export function identify(iam: IamIdentity | undefined, own: Account | undefined, roles: NodeRole[]): Identity {
    if (!own) return { refused: "the function cannot tell its own account: Lambda gave it no function ARN" };
    const arn = iam?.userArn;
    if (!arn) return { refused: "the request carries no IAM identity: the function URL must use AWS_IAM auth" };
    if (iam?.accountId !== own.account) return { refused: `${arn} is of account ${iam?.accountId}, not this function's account ${own.account}` };
    const session = ASSUMED_ROLE.exec(arn);
    if (!session) return { refused: `${arn} is ${kindOf(arn)}, not an instance` };
    const [, partition, account, role, name] = session;
    if (partition !== own.partition || account !== own.account) return { refused: `${arn} is not of this function's account ${own.account}` };
    if (!roles.some(r => r.partition === partition && r.account === account && r.name === role)) {
        return { refused: `${arn} is a session of role ${role}, which is not one of the node roles (nodeRoleArns)` };
    }
    if (!INSTANCE_ID.test(name)) {
        return { refused: `${arn} is a session of node role ${role} named '${name}', not after an instance: EC2 did not make it` };
    }
    return { caller: { instanceId: name, role, arn } };
}
