// The scripted session of the differential test: everything @modelcontextprotocol/server-everything
// offers, driven at the JSON-RPC level. Each step waits for what it causes before the next one,
// so both runs of the session produce their messages in the same order.
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  GetTaskPayloadRequestSchema,
  GetTaskRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { Message, RawClient, RequestHandler } from "./raw-client.js";

export const LEGACY_VERSION = "2025-11-25";
/** Starting keyward and the server under tsx on a busy 2-core machine can take many seconds. */
const STARTUP_TIMEOUT_MS = 30_000;

/** Arguments for every tool server-everything lists (a new tool fails the coverage check). */
const TOOL_ARGUMENTS: Record<string, Record<string, unknown>> = {
  echo: { message: "hello from the differential session" },
  "get-annotated-message": { messageType: "error", includeImage: true },
  "get-env": {},
  "get-resource-links": { count: 4 },
  "get-resource-reference": { resourceType: "Blob", resourceId: 2 },
  "get-structured-content": { location: "Chicago" },
  "get-sum": { a: 2, b: 40 },
  "get-tiny-image": {},
  // A data: URL keeps the fetch off the network.
  "gzip-file-as-resource": {
    name: "notes.txt.gz",
    data: `data:text/plain;base64,${Buffer.from("keyward differential notes\n").toString("base64")}`,
    outputType: "resource",
  },
  "trigger-long-running-operation": { duration: 0.3, steps: 3 },
  "get-roots-list": {},
  "trigger-elicitation-request": {},
  "trigger-url-elicitation": {
    url: "https://example.com/keyward/consent",
    message: "Open the consent page",
    elicitationId: "keyward-elicitation-1",
  },
  "trigger-sampling-request": { prompt: "Say hello", maxTokens: 20 },
  "trigger-sampling-request-async": { prompt: "Say hello later", maxTokens: 20 },
  "trigger-elicitation-request-async": {},
  "simulate-research-query": { topic: "python", ambiguous: true },
};

const PROMPT_ARGUMENTS: Record<string, Record<string, string>> = {
  "simple-prompt": {},
  "args-prompt": { city: "Lisbon", state: "Lisboa" },
  "completable-prompt": { department: "Engineering", name: "Alice" },
  "resource-prompt": { resourceType: "Blob", resourceId: "3" },
};

/** Client-side tasks (the server asks the client to run sampling or elicitation as a task). */
const TASK_TIME = "2026-01-01T00:00:00.000Z";

export interface SessionReport {
  tools: string[];
  prompts: string[];
  resources: string[];
  templates: string[];
  /** The id of the request cancelled with notifications/cancelled. */
  cancelledId: number;
}

/**
 * What the client answers to the server's requests: fixed values, so both runs match. Each
 * request is first checked against the SDK's schema, as an SDK client would (an invalid one is
 * answered with an error, which then shows up as a difference).
 */
export function installClientHandlers(client: RawClient): void {
  const handle = (
    method: string,
    schema: { parse(message: unknown): unknown },
    answer: RequestHandler,
  ): void =>
    client.handle(method, (params, message) => {
      schema.parse(message);
      return answer(params, message);
    });
  const taskResults = new Map<string, unknown>();
  let taskCount = 0;
  const asTask = (params: Record<string, unknown>, result: unknown): unknown => {
    const task = params.task as { ttl?: number } | undefined;
    if (task === undefined) return result;
    const taskId = `client-task-${++taskCount}`;
    taskResults.set(taskId, result);
    return {
      task: {
        taskId,
        status: "completed",
        createdAt: TASK_TIME,
        lastUpdatedAt: TASK_TIME,
        ttl: task.ttl ?? 60_000,
        pollInterval: 100,
      },
    };
  };
  handle("roots/list", ListRootsRequestSchema, () => ({
    roots: [{ uri: "file:///workspace/keyward-demo", name: "keyward demo" }],
  }));
  handle("sampling/createMessage", CreateMessageRequestSchema, (params) =>
    asTask(params, {
      role: "assistant",
      content: { type: "text", text: "Hello from the test client's model" },
      model: "keyward-test-model",
      stopReason: "endTurn",
    }),
  );
  handle("elicitation/create", ElicitRequestSchema, (params) => {
    if (params.mode === "url") return { action: "accept" };
    const schema = params.requestedSchema as { properties?: object } | undefined;
    const properties = Object.keys(schema?.properties ?? {});
    const content: Record<string, unknown> = properties.includes("interpretation")
      ? { interpretation: "programming" }
      : { name: "Ada Lovelace" };
    if (properties.includes("check")) content.check = true;
    if (properties.includes("favoriteColor")) content.favoriteColor = "Blue";
    if (properties.includes("agreeToTerms")) content.agreeToTerms = true;
    return asTask(params, { action: "accept", content });
  });
  handle("tasks/get", GetTaskRequestSchema, (params) => ({
    taskId: params.taskId,
    status: "completed",
    createdAt: TASK_TIME,
    lastUpdatedAt: TASK_TIME,
    ttl: 60_000,
    pollInterval: 100,
  }));
  handle("tasks/result", GetTaskPayloadRequestSchema, (params) => {
    const result = taskResults.get(String(params.taskId));
    if (result === undefined) throw new Error(`unknown task ${String(params.taskId)}`);
    return result;
  });
}

function ok(response: Message, what: string): Record<string, unknown> {
  if (response.error !== undefined) {
    throw new Error(`${what} failed: ${JSON.stringify(response.error)}`);
  }
  return response.result as Record<string, unknown>;
}

function isLog(pattern: RegExp): (m: Message) => boolean {
  return (m) =>
    m.method === "notifications/message" &&
    pattern.test(String((m.params as { data?: unknown } | undefined)?.data));
}

/** Lists every page of a list method. */
async function listAll(client: RawClient, method: string, key: string): Promise<unknown[]> {
  const items: unknown[] = [];
  let cursor: string | undefined;
  do {
    const result = ok(await client.request(method, cursor ? { cursor } : {}), method);
    items.push(...((result[key] as unknown[]) ?? []));
    cursor = result.nextCursor as string | undefined;
  } while (cursor);
  return items;
}

const names = (items: unknown[], key = "name"): string[] =>
  items.map((i) => String((i as Record<string, unknown>)[key]));

/**
 * Runs the whole session. Throws when a step fails (so a broken script shows up as such, not
 * as a transcript difference). The caller then closes the client.
 */
export async function runEverythingSession(client: RawClient): Promise<SessionReport> {
  installClientHandlers(client);
  ok(
    await client.request(
      "initialize",
      {
        protocolVersion: LEGACY_VERSION,
        capabilities: {
          roots: { listChanged: true },
          sampling: {},
          elicitation: { form: {}, url: {} },
          tasks: { requests: { sampling: { createMessage: {} }, elicitation: { create: {} } } },
        },
        clientInfo: { name: "keyward-differential", version: "1.0.0" },
      },
      { timeoutMs: STARTUP_TIMEOUT_MS },
    ),
    "initialize",
  );
  client.notify("notifications/initialized");
  // The server asks for the roots 350 ms after initialized, then logs that it got them.
  await client.waitFor(isLog(/^Roots updated: 1 root/), "the roots sync log");
  ok(await client.request("ping"), "ping");

  const tools = await listAll(client, "tools/list", "tools");
  const prompts = await listAll(client, "prompts/list", "prompts");
  const resources = await listAll(client, "resources/list", "resources");
  const templates = await listAll(client, "resources/templates/list", "resourceTemplates");

  // Cancellation first: the slow call's own timer runs out while the rest of the session goes on,
  // and a response the server wrongly sent anyway would show in the transcript.
  const cancelledId = client.newId();
  client.send({
    jsonrpc: "2.0",
    id: cancelledId,
    method: "tools/call",
    params: { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 1 } },
  });
  client.notify("notifications/cancelled", {
    requestId: cancelledId,
    reason: "the differential session cancels this call",
  });

  // Logging: everything at debug and above, then one simulated (random-level) message.
  ok(await client.request("logging/setLevel", { level: "debug" }), "logging/setLevel");
  const callTool = async (name: string, args: Record<string, unknown>, extra = {}) =>
    client.request("tools/call", { name, arguments: args, ...extra });
  ok(await callTool("toggle-simulated-logging", {}), "toggle-simulated-logging on");
  await client.waitFor(isLog(/-level message|level-message/), "the simulated log message");
  ok(await callTool("toggle-simulated-logging", {}), "toggle-simulated-logging off");

  // Subscriptions: subscribe, one simulated update, stop, unsubscribe.
  const watched = "demo://resource/dynamic/text/1";
  ok(await client.request("resources/subscribe", { uri: watched }), "resources/subscribe");
  ok(await callTool("toggle-subscriber-updates", {}), "toggle-subscriber-updates on");
  await client.waitFor(
    (m) =>
      m.method === "notifications/resources/updated" &&
      (m.params as { uri?: string }).uri === watched,
    "the resource update",
  );
  ok(await callTool("toggle-subscriber-updates", {}), "toggle-subscriber-updates off");
  ok(await client.request("resources/unsubscribe", { uri: watched }), "resources/unsubscribe");

  // Every tool, in the server's order.
  for (const name of names(tools)) {
    const args = TOOL_ARGUMENTS[name];
    if (args === undefined) {
      if (name.startsWith("toggle-")) continue; // driven above
      throw new Error(`the session has no arguments for tool ${name}: add it to TOOL_ARGUMENTS`);
    }
    if (name === "simulate-research-query") {
      // A task-based tool: create the task, then fetch its result (which delivers the
      // server's clarification request on the way), then look at the finished task.
      const created = ok(await callTool(name, args, { task: { ttl: 60_000 } }), name);
      const taskId = (created.task as { taskId: string }).taskId;
      ok(await client.request("tasks/result", { taskId }, { timeoutMs: 15_000 }), "tasks/result");
      ok(await client.request("tasks/get", { taskId }), "tasks/get");
      ok(await client.request("tasks/list", {}), "tasks/list");
      continue;
    }
    const progress =
      name === "trigger-long-running-operation" ? { _meta: { progressToken: "progress-1" } } : {};
    ok(await callTool(name, args, progress), name);
    if (name === "trigger-url-elicitation") {
      // The error path: -32042 with the prerequisite elicitation in error.data.
      const failed = await callTool(name, { ...args, errorPath: true });
      if ((failed.error as { code?: number } | undefined)?.code !== -32042) {
        throw new Error(
          `trigger-url-elicitation errorPath: expected -32042, got ${JSON.stringify(failed)}`,
        );
      }
    }
    if (name === "gzip-file-as-resource") {
      // The default output registers a session resource and links to it.
      ok(await callTool(name, { ...args, outputType: "resourceLink" }), name);
    }
  }
  // A tool error and a protocol error come back as they are.
  await callTool("get-sum", { a: "two", b: 40 });
  await client.request("tools/call", { name: "no-such-tool", arguments: {} });

  // Prompts, resources, templates and completions.
  for (const name of names(prompts)) {
    const args = PROMPT_ARGUMENTS[name];
    if (args === undefined) throw new Error(`the session has no arguments for prompt ${name}`);
    ok(await client.request("prompts/get", { name, arguments: args }), `prompts/get ${name}`);
  }
  for (const uri of names(resources, "uri")) {
    ok(await client.request("resources/read", { uri }), `resources/read ${uri}`);
  }
  for (const template of names(templates, "uriTemplate")) {
    const uri = template.replace("{resourceId}", "5");
    ok(await client.request("resources/read", { uri }), `resources/read ${uri}`);
  }
  ok(
    await client.request("resources/read", { uri: "demo://resource/session/notes.txt.gz" }),
    "resources/read session resource",
  );
  await client.request("resources/read", { uri: "demo://resource/dynamic/text/not-a-number" });
  for (const params of [
    {
      ref: { type: "ref/prompt", name: "completable-prompt" },
      argument: { name: "department", value: "S" },
    },
    {
      ref: { type: "ref/prompt", name: "completable-prompt" },
      argument: { name: "name", value: "" },
      context: { arguments: { department: "Marketing" } },
    },
    {
      ref: { type: "ref/prompt", name: "resource-prompt" },
      argument: { name: "resourceType", value: "B" },
    },
    {
      ref: { type: "ref/resource", uri: "demo://resource/dynamic/text/{resourceId}" },
      argument: { name: "resourceId", value: "12" },
    },
  ]) {
    ok(await client.request("completion/complete", params), "completion/complete");
  }

  // The client's roots change: the server asks again and logs it.
  client.notify("notifications/roots/list_changed");
  await client.waitFor(
    (m) =>
      client.messages().filter(isLog(/^Roots updated/)).length >= 2 && isLog(/^Roots updated/)(m),
    "the second roots sync log",
  );
  // A method the server does not know, with a string id.
  await client.request("keyward/unknown-method", {}, { id: "string-id-1" });
  ok(await client.request("ping", undefined, { id: "final-ping" }), "ping");

  return {
    tools: names(tools),
    prompts: names(prompts),
    resources: names(resources, "uri"),
    templates: names(templates, "uriTemplate"),
    cancelledId,
  };
}
