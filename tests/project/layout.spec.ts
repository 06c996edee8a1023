// The repository's module layout, checked on its own TypeScript (what tsconfig.json
// includes): no import cycles anywhere, type-only and dynamic imports included, and
// the AWS SDK reached from binder/ only through its AWS layer, binder/aws/. The
// import graph is dpdm's; the check is run first on a made-up tree that breaks both
// rules, to show that it does see them.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DependencyTree, parseCircular, parseDependencyTree } from "dpdm";
import * as ts from "typescript";

const ROOT = path.join(__dirname, "..", "..");

/** What an SDK import looks like: the AWS SDK's clients, and the Smithy packages under them. */
const SDK = /^@(aws-sdk|smithy)\//;

/** Where the binder may import the SDK: its AWS layer. */
const AWS_LAYER = "binder/aws/";

/** The project's own TypeScript: the globs tsconfig.json includes, and the files they match, by path from `root`. */
function projectSources(root: string): { globs: string[]; files: string[] } {
    const { config, error } = ts.readConfigFile(path.join(root, "tsconfig.json"), ts.sys.readFile);
    if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
    const { fileNames } = ts.parseJsonConfigFileContent(config, ts.sys, root);
    return { globs: config.include, files: fileNames.map(name => path.relative(root, name).split(path.sep).join("/")) };
}

/** Every file the globs match and everything they import, by path from `root`; packages are leaves. */
async function importGraph(root: string, globs: string[]): Promise<DependencyTree> {
    const tsconfig = path.join(root, "tsconfig.json");
    return parseDependencyTree(globs, {
        cwd: root,
        context: root,
        tsconfig: fs.existsSync(tsconfig) ? tsconfig : undefined,
        // Type-only imports count: they tie two modules together as much as any other.
        transform: false,
        skipDynamicImports: false,
    });
}

/** Each import cycle, as the files around it. */
function cycles(tree: DependencyTree): string[][] {
    return parseCircular(tree, false);
}

/** "file imports package" for each SDK import of a file under binder/ but outside its AWS layer. */
function sdkOutsideAwsLayer(tree: DependencyTree): string[] {
    return Object.entries(tree)
        .filter(([file]) => file.startsWith("binder/") && !file.startsWith(AWS_LAYER))
        .flatMap(([file, deps]) => (deps ?? []).filter(dep => SDK.test(dep.request)).map(dep => `${file} imports ${dep.request}`));
}

/** Every project file `entry` reaches through its imports, itself included. */
function reached(tree: DependencyTree, entry: string): string[] {
    const seen = new Set<string>();
    const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        for (const dep of tree[file] ?? []) if (dep.id !== null && dep.id in tree) visit(dep.id);
    };
    visit(entry);
    return [...seen];
}

/** Where the scheduler client may import the SDK: its one file that speaks to AWS. */
const SCHEDULER_AWS_FILE = "scheduler/dynamodb.ts";

/** "file imports package" for each package import, anywhere the scheduler client's entry point reaches, that is Pulumi or, outside its AWS file, the SDK. */
function schedulerImportsAmiss(tree: DependencyTree): string[] {
    return reached(tree, "scheduler/index.ts").flatMap(file => (tree[file] ?? [])
        .filter(dep => dep.request.startsWith("@pulumi/") || (SDK.test(dep.request) && file !== SCHEDULER_AWS_FILE))
        .map(dep => `${file} imports ${dep.request}`));
}

/** "file imports request" for each relative import that leads to no file: the graph would miss its edges. */
function unresolved(tree: DependencyTree): string[] {
    return Object.entries(tree)
        .flatMap(([file, deps]) => (deps ?? []).filter(dep => dep.request.startsWith(".") && dep.id === null).map(dep => `${file} imports ${dep.request}`));
}

describe("module layout", function () {
    this.timeout(60_000);

    describe("the check itself, on a tree that breaks both rules", () => {
        let dir: string;
        let tree: DependencyTree;

        before(async () => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "layout-"));
            const files: Record<string, string> = {
                // A cycle of two through a type-only import.
                "binder/a.ts": `import type { B } from "./b";\nexport interface A { b?: B }\n`,
                "binder/b.ts": `import { A } from "./a";\nexport type B = A[];\n`,
                // A cycle of three through a re-export and a dynamic import.
                "bench/x.ts": `export * from "./y";\n`,
                "bench/y.ts": `import { z } from "../tests/z";\nexport const y = z;\n`,
                "tests/z.ts": `export const z = 1;\nexport const later = () => import("../bench/x");\n`,
                // The SDK outside the AWS layer, and inside it, where it belongs.
                "binder/handler.ts": `import { SQSClient } from "@aws-sdk/client-sqs";\nexport const sqs = () => new SQSClient({});\n`,
                "binder/aws/queue.ts": `import { SQSClient } from "@aws-sdk/client-sqs";\nimport { HttpRequest } from "@smithy/protocol-http";\nexport { SQSClient, HttpRequest };\n`,
                // Outside binder/ the SDK is anyone's: the tests' stand-ins speak it.
                "tests/stand-in.ts": `import { EC2Client } from "@aws-sdk/client-ec2";\nexport const ec2 = new EC2Client({});\n`,
            };
            for (const [name, text] of Object.entries(files)) {
                fs.mkdirSync(path.join(dir, path.dirname(name)), { recursive: true });
                fs.writeFileSync(path.join(dir, name), text);
            }
            tree = await importGraph(dir, ["{binder,bench,tests}/**/*.ts"]);
        });

        after(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("finds each cycle, type-only and dynamic imports included", () => {
            const found = cycles(tree).map(cycle => [...cycle].sort());
            expect(found).to.have.deep.members([["binder/a.ts", "binder/b.ts"], ["bench/x.ts", "bench/y.ts", "tests/z.ts"]]);
        });

        it("finds the SDK imported under binder/ outside binder/aws/, and only there", () => {
            expect(sdkOutsideAwsLayer(tree)).to.deep.equal(["binder/handler.ts imports @aws-sdk/client-sqs"]);
        });
    });

    describe("the project", () => {
        const sources = projectSources(ROOT);
        let tree: DependencyTree;

        before(async () => {
            tree = await importGraph(ROOT, sources.globs);
        });

        it("reads every file tsconfig.json includes, and every relative import leads to a file", () => {
            expect(sources.files).to.include.members(["index.ts", "binder/handler.ts", "binder/aws/store.ts", "infra/lambda.ts", "cli/main.ts", "bench/lambda.ts", "tools/demo.ts", "examples/scheduler-stream.ts", "tests/project/layout.spec.ts"]);
            expect(Object.keys(tree)).to.include.members(sources.files);
            expect(unresolved(tree)).to.deep.equal([]);
        });

        it("has no import cycles", () => {
            expect(cycles(tree).map(cycle => cycle.join(" -> "))).to.deep.equal([]);
        });

        it("imports the AWS SDK from binder/ only in binder/aws/", () => {
            expect(sdkOutsideAwsLayer(tree)).to.deep.equal([]);
            // The layer is there and does use it: the rule would hold trivially if the files had moved.
            expect(Object.entries(tree).filter(([file, deps]) => file.startsWith(AWS_LAYER) && (deps ?? []).some(dep => SDK.test(dep.request))).map(([file]) => file))
                .to.include.members(["binder/aws/clients.ts", "binder/aws/ec2.ts", "binder/aws/store.ts", "binder/aws/dns.ts", "binder/aws/queue.ts"]);
        });

        it("keeps the scheduler client free of Pulumi, with the SDK in scheduler/dynamodb.ts only, through everything it imports", () => {
            expect(reached(tree, "scheduler/index.ts")).to.include.members(["scheduler/client.ts", SCHEDULER_AWS_FILE, "binder/schema.ts"]);
            expect(schedulerImportsAmiss(tree)).to.deep.equal([]);
            expect((tree[SCHEDULER_AWS_FILE] ?? []).map(dep => dep.request)).to.include("@aws-sdk/client-dynamodb");
        });
    });
});
