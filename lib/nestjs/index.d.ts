// mcp-swagger-native/nestjs: the NestJS module (docs/nestjs.md).
import type { DynamicModule, InjectionToken, ModuleMetadata, OnModuleDestroy, OnModuleInit, OptionalFactoryDependency } from '@nestjs/common'
import type {
  AuthOptions,
  CallToolResult,
  ConnectionInfo,
  ConnectionMonitor,
  ConnectionStats,
  GetPromptResult,
  InputRequiredResult,
  PromptDefinition,
  ReadResourceResult,
  RequestContext,
  ResourceDefinition,
  ResourceTemplateDefinition,
  StreamableMcpServer,
  StreamableServerOptions,
  ToolDefinition,
} from '../server'
import type { ObjectJsonSchema } from '../mcp'

/** A zod 4 schema, seen structurally so zod stays an optional dependency. */
export interface ZodLike<Out = unknown, In = unknown> {
  readonly _zod: { readonly output: Out; readonly input: In }
  safeParse(value: unknown): unknown
}
/** A JSON Schema object (2020-12 unless it says otherwise with `$schema`). */
export type JsonSchemaObject = { [keyword: string]: unknown }
/** A tool definition's own schema type (ObjectJsonSchema) is accepted as it is. */
export type SchemaInput = JsonSchemaObject | ObjectJsonSchema | ZodLike
/** The arguments a method receives for a schema: zod's output type, or a plain object. */
export type ArgsOf<S> = S extends ZodLike<infer Out> ? Out : Record<string, unknown>

/** What the principal a host authenticated looks like to tools (`ctx.auth`). */
export interface McpAuthInfo {
  subject?: string
  scopes?: string[]
  [claim: string]: unknown
}
export type McpContext = RequestContext & { auth?: McpAuthInfo }

/** Where the endpoint lives: on the Nest app's own HTTP server, or on a native listener. */
export type McpMount = 'app' | { port: number; host?: string }

export interface McpNativeModuleOptions extends Omit<StreamableServerOptions, 'port' | 'endpoint' | 'auth'> {
  /** The endpoint path (under the app's global prefix when mounted on the app). Default '/mcp'. */
  path?: string
  /** Default 'app'. */
  mount?: McpMount
  /** Called besides the @nestjs/event-emitter events. */
  monitor?: ConnectionMonitor
  /** With mount 'app': the principal of a request (default: `req.auth` when a guard set it), handed to handle() as options.auth. */
  auth?: (req: any) => McpAuthInfo | undefined | Promise<McpAuthInfo | undefined>
  /**
   * OAuth 2.1 resource server: bearer tokens checked before any MCP handling (401/403 with
   * WWW-Authenticate), the protected-resource metadata (RFC 9728) served. Passed to the server
   * as its `auth` option. With mount 'app', `resource` (the endpoint's public URL) is required and
   * the module routes `/.well-known/oauth-protected-resource` (+ the resource's path, and bare) on
   * the HTTP adapter itself, outside the global prefix.
   */
  oauth?: AuthOptions
  /** Registers the module globally (default true). */
  global?: boolean
}

export interface McpNativeModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: any[]) => Omit<McpNativeModuleOptions, 'path' | 'mount' | 'auth' | 'global'> | Promise<Omit<McpNativeModuleOptions, 'path' | 'mount' | 'auth' | 'global'>>
  inject?: (InjectionToken | OptionalFactoryDependency)[]
  path?: string
  mount?: McpMount
  auth?: McpNativeModuleOptions['auth']
  global?: boolean
}

export declare class McpNativeModule {
  static forRoot(options?: McpNativeModuleOptions): DynamicModule
  static forRootAsync(options: McpNativeModuleAsyncOptions): DynamicModule
}

export interface McpToolOptions<S extends SchemaInput = SchemaInput> {
  /** Default: the method's name. */
  name?: string
  title?: string
  description: string
  inputSchema: S
  outputSchema?: SchemaInput
  annotations?: ToolDefinition['annotations']
  icons?: unknown[]
  _meta?: Record<string, unknown>
  /** Every scope the caller's `ctx.auth.scopes` must hold; otherwise an isError result (no `ctx.auth`: refused). */
  requiredScopes?: string[]
}
/** What a tool method may return: the MCP result, a string (one text block) or an object (structured content). */
export type McpToolReturn = CallToolResult | InputRequiredResult | string | object

export declare function McpTool<S extends SchemaInput>(
  options: McpToolOptions<S>,
): <M extends (args: ArgsOf<S>, ctx: McpContext) => McpToolReturn | Promise<McpToolReturn>>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void

export type McpResourceOptions = (
  | { uri: string; uriTemplate?: never }
  | { uriTemplate: string; uri?: never }
) & { name: string; title?: string; description?: string; mimeType?: string; size?: number; annotations?: object; _meta?: Record<string, unknown> }
/** A string is text, a Buffer a blob, another object JSON text. */
export type McpResourceReturn = ReadResourceResult | InputRequiredResult | string | Buffer | Uint8Array | object

export declare function McpResource(
  options: McpResourceOptions,
): <M extends (req: { uri: string; params: Record<string, string> }, ctx: McpContext) => McpResourceReturn | Promise<McpResourceReturn>>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void

export interface McpPromptOptions<A extends PromptDefinition['arguments'] | ZodLike = PromptDefinition['arguments'] | ZodLike> {
  name: string
  title?: string
  description?: string
  arguments?: A
}
export type McpPromptReturn = GetPromptResult | InputRequiredResult | string

export declare function McpPrompt<A extends PromptDefinition['arguments'] | ZodLike>(
  options: McpPromptOptions<A>,
): <M extends (args: A extends ZodLike<infer Out> ? Out : Record<string, string>, ctx: McpContext) => McpPromptReturn | Promise<McpPromptReturn>>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void

export interface McpToolRegistration {
  definition: Omit<ToolDefinition, 'inputSchema' | 'outputSchema'> & { inputSchema: SchemaInput; outputSchema?: SchemaInput; requiredScopes?: string[] }
  handler: (args: any, ctx: McpContext) => McpToolReturn | Promise<McpToolReturn>
}

/** The server: injectable wherever the module is (it is global by default). */
export declare class McpNativeService implements OnModuleInit, OnModuleDestroy {
  readonly mount: McpMount
  readonly path: string
  /** With mount { port }: where the native listener is. */
  readonly url: string | undefined
  readonly port: number | undefined
  readonly state: 'new' | 'running' | 'closing' | 'closed'
  onModuleInit(): Promise<void>
  onModuleDestroy(): Promise<void>
  getConnectionStats(): ConnectionStats
  getActiveConnections(): number
  getConnectionInfo(sessionId: string): ConnectionInfo | null
  getTools(): ToolDefinition[]
  /** The server object: a StreamableMcpHandler with mount 'app', a StreamableMcpServer with { port }. Throws before onModuleInit. */
  readonly server: StreamableMcpServer
  /**
   * Adds tools answered by their handlers (replacing those of the same name), after removing the
   * tools named in `options.remove`; connected clients get one tools/list_changed.
   */
  registerTools(entries: McpToolRegistration[], options?: { remove?: Iterable<string> }): void
  /** Drops tools by name (registered or decorated); clients get tools/list_changed. */
  unregisterTools(names: Iterable<string>): void
  /** The server's OpenMetrics text (needs the `metrics` option). */
  metrics(): Promise<string>
  setTools(tools: ToolDefinition[]): void
  setPrompts(prompts: PromptDefinition[]): void
  setResources(resources: ResourceDefinition[], templates?: ResourceTemplateDefinition[]): void
  notifyResourceUpdated(uri: string): void
  closeSession(sessionId: string): Promise<boolean>
  close(): Promise<void>
  /** mount 'app': serve one request of the app's HTTP server. */
  handle(req: unknown, res: unknown, options?: { auth?: McpAuthInfo; body?: unknown }): Promise<void>
}

export interface McpHealthIndicatorResult {
  [key: string]: { status: 'up' | 'down'; [detail: string]: unknown }
}
/** For @nestjs/terminus: `() => health.isHealthy('mcp')`. */
export declare class McpHealthIndicator {
  isHealthy(key?: string): Promise<McpHealthIndicatorResult>
}

export declare const MCP_NATIVE_OPTIONS: 'MCP_NATIVE_OPTIONS'
/** Event names re-emitted through @nestjs/event-emitter when it is installed and imported. */
export declare const MCP_NATIVE_EVENTS: {
  readonly established: 'mcp.connection.established'
  readonly closed: 'mcp.connection.closed'
  readonly changed: 'mcp.connection.changed'
  readonly rejected: 'mcp.connection.rejected'
}
/** Payloads of those events. */
export interface McpNativeEventPayloads {
  'mcp.connection.established': ConnectionInfo
  'mcp.connection.closed': { sessionId: string; durationMs: number }
  'mcp.connection.changed': ConnectionStats
  'mcp.connection.rejected': { reason: string; clientIP: string; at: Date }
}
