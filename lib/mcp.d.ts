// MCP wire shapes the public API takes and returns, from the 2025-11-25 and 2026-07-28 schemas
// (github.com/modelcontextprotocol/modelcontextprotocol, schema/<revision>/schema.ts). Objects the
// host writes are closed (a misspelt key is a compile error); `_meta` is the extension point.
// Where the two revisions differ the comment says which one a field belongs to. Types of the
// @modelcontextprotocol/sdk 1.x (`Tool`, `CallToolResult`, …) are assignable to these
// (__test__/types/valid.ts checks it).

/** Free-form metadata; keys are names like `vendor.example/key`, values JSON. */
export type MetaObject = { [key: string]: unknown }

export type JSONValue = string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue }

export type Role = 'user' | 'assistant'

export type LoggingLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency'

/** A hint to clients on how to use or show an object. */
export interface Annotations {
  audience?: Role[]
  /** 0 (least important) to 1 (most important). */
  priority?: number
  /** ISO 8601, e.g. "2025-01-12T15:00:58Z". */
  lastModified?: string
}

/** An icon a client may show (2025-11-25). `src` is an https: or data: URI. */
export interface Icon {
  src: string
  mimeType?: string
  /** e.g. ["48x48"], or ["any"] for scalable formats. */
  sizes?: string[]
  theme?: 'light' | 'dark'
}

/** `serverInfo` / `clientInfo`. */
export interface Implementation {
  name: string
  version: string
  title?: string
  description?: string
  websiteUrl?: string
  icons?: Icon[]
}

// ---------- JSON Schema (2020-12 by default) ----------

export type JsonSchemaTypeName = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null'

/**
 * A JSON Schema (2020-12 keywords, plus draft-07's `definitions`). Closed, so a misspelt keyword
 * in a literal schema is a compile error; a schema built at run time (`Record<string, unknown>`,
 * or the SDK's `object`) is accepted as it is. Vendor keywords (`x-…`) need such a value or a cast.
 */
export interface JsonSchema {
  $schema?: string
  $id?: string
  $ref?: string
  $anchor?: string
  $dynamicRef?: string
  $dynamicAnchor?: string
  $comment?: string
  $defs?: { [name: string]: JsonSchema | boolean }
  definitions?: { [name: string]: JsonSchema | boolean }
  type?: JsonSchemaTypeName | JsonSchemaTypeName[]
  title?: string
  description?: string
  default?: unknown
  examples?: unknown[]
  deprecated?: boolean
  readOnly?: boolean
  writeOnly?: boolean
  enum?: unknown[]
  const?: unknown
  format?: string
  contentMediaType?: string
  contentEncoding?: string
  properties?: { [name: string]: JsonSchema | boolean }
  patternProperties?: { [pattern: string]: JsonSchema | boolean }
  additionalProperties?: JsonSchema | boolean
  unevaluatedProperties?: JsonSchema | boolean
  propertyNames?: JsonSchema | boolean
  required?: string[]
  dependentRequired?: { [name: string]: string[] }
  dependentSchemas?: { [name: string]: JsonSchema | boolean }
  minProperties?: number
  maxProperties?: number
  items?: JsonSchema | boolean
  prefixItems?: (JsonSchema | boolean)[]
  unevaluatedItems?: JsonSchema | boolean
  contains?: JsonSchema | boolean
  minContains?: number
  maxContains?: number
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  minLength?: number
  maxLength?: number
  pattern?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  multipleOf?: number
  anyOf?: (JsonSchema | boolean)[]
  oneOf?: (JsonSchema | boolean)[]
  allOf?: (JsonSchema | boolean)[]
  not?: JsonSchema | boolean
  if?: JsonSchema | boolean
  then?: JsonSchema | boolean
  else?: JsonSchema | boolean
}

/** A tool's `inputSchema` (and `outputSchema`): a JSON Schema describing an object. */
export interface ObjectJsonSchema extends JsonSchema {
  type: 'object'
}

// ---------- content ----------

export interface TextContent {
  type: 'text'
  text: string
  annotations?: Annotations
  _meta?: MetaObject
}

export interface ImageContent {
  type: 'image'
  /** base64 */
  data: string
  mimeType: string
  annotations?: Annotations
  _meta?: MetaObject
}

export interface AudioContent {
  type: 'audio'
  /** base64 */
  data: string
  mimeType: string
  annotations?: Annotations
  _meta?: MetaObject
}

export interface TextResourceContents {
  uri: string
  mimeType?: string
  text: string
  _meta?: MetaObject
}

export interface BlobResourceContents {
  uri: string
  mimeType?: string
  /** base64 */
  blob: string
  _meta?: MetaObject
}

export type ResourceContents = TextResourceContents | BlobResourceContents

/** A resource the server can read, or one a tool result points at (`ResourceLink`). */
export interface ResourceDefinition {
  uri: string
  name: string
  title?: string
  description?: string
  mimeType?: string
  /** Size of the raw content in bytes, if known. */
  size?: number
  annotations?: Annotations
  icons?: Icon[]
  _meta?: MetaObject
  /** Server option (`auth`): reading it needs these scopes (403 otherwise); lists hide it from callers without them. */
  requiredScopes?: string[]
}

export interface ResourceLink extends ResourceDefinition {
  type: 'resource_link'
}

export interface EmbeddedResource {
  type: 'resource'
  resource: ResourceContents
  annotations?: Annotations
  _meta?: MetaObject
}

/** Content of tool results and prompt messages, a union on `type`. */
export type ContentBlock = TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource

// ---------- tools, resources, prompts ----------

/** Hints about a tool's behaviour; clients must not trust them from untrusted servers. */
export interface ToolAnnotations {
  title?: string
  readOnlyHint?: boolean
  destructiveHint?: boolean
  idempotentHint?: boolean
  openWorldHint?: boolean
}

export interface ToolDefinition {
  name: string
  title?: string
  description?: string
  icons?: Icon[]
  inputSchema: ObjectJsonSchema
  /** `structuredContent` of the tool's results conforms to it. */
  outputSchema?: ObjectJsonSchema
  annotations?: ToolAnnotations
  /** 2025-11-25 tasks: whether the tool supports task-augmented calls. */
  execution?: { taskSupport?: 'forbidden' | 'optional' | 'required' }
  _meta?: MetaObject
  /** Server option (`auth`): calling it needs these scopes (403 otherwise); lists hide it from callers without them. */
  requiredScopes?: string[]
}

export interface ResourceTemplateDefinition {
  /** An RFC 6570 URI template. */
  uriTemplate: string
  name: string
  title?: string
  description?: string
  mimeType?: string
  annotations?: Annotations
  icons?: Icon[]
  _meta?: MetaObject
  /**
   * Scopes a caller's token must hold to read a URI this template describes (unless the URI is
   * itself a listed resource, whose own `requiredScopes` apply) and to see the template listed.
   */
  requiredScopes?: string[]
}

export interface PromptArgument {
  name: string
  title?: string
  description?: string
  required?: boolean
}

export interface PromptDefinition {
  name: string
  title?: string
  description?: string
  arguments?: PromptArgument[]
  icons?: Icon[]
  _meta?: MetaObject
  /** Server option (`auth`): getting it needs these scopes (403 otherwise); lists hide it from callers without them. */
  requiredScopes?: string[]
}

export interface PromptMessage {
  role: Role
  content: ContentBlock
}

// ---------- results of the host's callbacks ----------

/** What `callTool` returns when the call completed (the 2026-07-28 `resultType` is filled in). */
export interface CallToolResult {
  resultType?: 'complete'
  content: ContentBlock[]
  /** Conforms to the tool's `outputSchema`. */
  structuredContent?: { [key: string]: unknown }
  isError?: boolean
  _meta?: MetaObject
}

export interface ReadResourceResult {
  resultType?: 'complete'
  contents: ResourceContents[]
  _meta?: MetaObject
}

export interface GetPromptResult {
  resultType?: 'complete'
  description?: string
  messages: PromptMessage[]
  _meta?: MetaObject
}

export interface CompleteResult {
  completion: {
    /** At most 100. */
    values: string[]
    total?: number
    hasMore?: boolean
  }
  _meta?: MetaObject
}

export interface PromptReference {
  type: 'ref/prompt'
  name: string
  title?: string
}

export interface ResourceTemplateReference {
  type: 'ref/resource'
  uri: string
}

/** What `complete` is asked about, a union on `type`. */
export type CompleteReference = PromptReference | ResourceTemplateReference

// ---------- client capabilities ----------

/** A capability the spec defines as an empty object, open to future keys. */
export type CapabilityObject = { [key: string]: unknown }

export interface ClientCapabilities {
  experimental?: { [name: string]: CapabilityObject }
  roots?: { listChanged?: boolean }
  sampling?: { context?: CapabilityObject; tools?: CapabilityObject }
  elicitation?: { form?: CapabilityObject; url?: CapabilityObject }
  tasks?: {
    list?: CapabilityObject
    cancel?: CapabilityObject
    requests?: {
      sampling?: { createMessage?: CapabilityObject }
      elicitation?: { create?: CapabilityObject }
    }
  }
  extensions?: { [name: string]: CapabilityObject }
}

// ---------- server → client requests: sampling, elicitation, roots ----------

export interface ToolUseContent {
  type: 'tool_use'
  id: string
  name: string
  input: { [key: string]: unknown }
  _meta?: MetaObject
}

export interface ToolResultContent {
  type: 'tool_result'
  toolUseId: string
  content: ContentBlock[]
  structuredContent?: { [key: string]: unknown }
  isError?: boolean
  _meta?: MetaObject
}

export type SamplingMessageContentBlock = TextContent | ImageContent | AudioContent | ToolUseContent | ToolResultContent

export interface SamplingMessage {
  role: Role
  content: SamplingMessageContentBlock | SamplingMessageContentBlock[]
  _meta?: MetaObject
}

export interface ModelPreferences {
  hints?: { name?: string }[]
  /** 0 to 1 */
  costPriority?: number
  /** 0 to 1 */
  speedPriority?: number
  /** 0 to 1 */
  intelligencePriority?: number
}

export interface CreateMessageRequestParams {
  messages: SamplingMessage[]
  modelPreferences?: ModelPreferences
  systemPrompt?: string
  includeContext?: 'none' | 'thisServer' | 'allServers'
  temperature?: number
  maxTokens: number
  stopSequences?: string[]
  metadata?: { [key: string]: JSONValue }
  /** Needs the client's `sampling.tools` capability. */
  tools?: ToolDefinition[]
  toolChoice?: { mode?: 'auto' | 'required' | 'none' }
  _meta?: MetaObject
}

export interface CreateMessageResult {
  role: Role
  content: SamplingMessageContentBlock | SamplingMessageContentBlock[]
  model: string
  stopReason?: 'endTurn' | 'stopSequence' | 'maxTokens' | 'toolUse' | (string & {})
  _meta?: MetaObject
}

export interface StringSchema {
  type: 'string'
  title?: string
  description?: string
  minLength?: number
  maxLength?: number
  format?: 'email' | 'uri' | 'date' | 'date-time'
  default?: string
}

export interface NumberSchema {
  type: 'number' | 'integer'
  title?: string
  description?: string
  minimum?: number
  maximum?: number
  default?: number
}

export interface BooleanSchema {
  type: 'boolean'
  title?: string
  description?: string
  default?: boolean
}

export interface UntitledSingleSelectEnumSchema {
  type: 'string'
  title?: string
  description?: string
  enum: string[]
  default?: string
}

export interface TitledSingleSelectEnumSchema {
  type: 'string'
  title?: string
  description?: string
  oneOf: { const: string; title: string }[]
  default?: string
}

export interface UntitledMultiSelectEnumSchema {
  type: 'array'
  title?: string
  description?: string
  minItems?: number
  maxItems?: number
  items: { type: 'string'; enum: string[] }
  default?: string[]
}

export interface TitledMultiSelectEnumSchema {
  type: 'array'
  title?: string
  description?: string
  minItems?: number
  maxItems?: number
  items: { anyOf: { const: string; title: string }[] }
  default?: string[]
}

/** Deprecated in 2025-11-25; use TitledSingleSelectEnumSchema. */
export interface LegacyTitledEnumSchema {
  type: 'string'
  title?: string
  description?: string
  enum: string[]
  enumNames?: string[]
  default?: string
}

export type EnumSchema =
  | UntitledSingleSelectEnumSchema
  | TitledSingleSelectEnumSchema
  | UntitledMultiSelectEnumSchema
  | TitledMultiSelectEnumSchema
  | LegacyTitledEnumSchema

/** A field of an elicitation form: flat, primitive types only. */
export type PrimitiveSchemaDefinition = StringSchema | NumberSchema | BooleanSchema | EnumSchema

export interface ElicitRequestFormParams {
  mode?: 'form'
  message: string
  requestedSchema: {
    $schema?: string
    type: 'object'
    properties: { [name: string]: PrimitiveSchemaDefinition }
    required?: string[]
  }
  _meta?: MetaObject
}

/** 2025-11-25 URL-mode elicitation (ctx.request). */
export interface ElicitRequestURLParams {
  mode: 'url'
  message: string
  elicitationId: string
  url: string
  _meta?: MetaObject
}

export type ElicitRequestParams = ElicitRequestFormParams | ElicitRequestURLParams

export interface ElicitResult {
  action: 'accept' | 'decline' | 'cancel'
  /** With `accept` on a form: the submitted values. */
  content?: { [name: string]: string | number | boolean | string[] }
  _meta?: MetaObject
}

export interface Root {
  /** A file:// URI. */
  uri: string
  name?: string
  _meta?: MetaObject
}

export interface ListRootsResult {
  roots: Root[]
  _meta?: MetaObject
}

// ---------- 2026-07-28 multi round-trip ----------

/** One request the client must answer before retrying (2026-07-28), a union on `method`. */
export type InputRequest =
  | { method: 'sampling/createMessage'; params: CreateMessageRequestParams }
  | { method: 'elicitation/create'; params: ElicitRequestFormParams | Omit<ElicitRequestURLParams, 'elicitationId'> }
  | { method: 'roots/list'; params?: { _meta?: MetaObject } }

/** The client's answer to one InputRequest, under the same key. */
export type InputResponse = CreateMessageResult | ElicitResult | ListRootsResult

/** callTool, readResource and getPrompt may return this instead of their result (2026-07-28). */
export interface InputRequiredResult {
  resultType: 'input_required'
  inputRequests?: { [key: string]: InputRequest }
  /** Sealed by the server before it leaves; the retry hands the original back in `ctx.requestState`. */
  requestState?: string
  _meta?: MetaObject
}
