import { Injectable } from '@nestjs/common'
import { OnEvent } from '@nestjs/event-emitter'
import type { McpNativeEventPayloads } from 'mcp-swagger-native/nestjs'

/** Collects the monitor events the module re-emits, for the tests. */
@Injectable()
export class EventsRecorder {
  readonly established: McpNativeEventPayloads['mcp.connection.established'][] = []
  readonly closed: McpNativeEventPayloads['mcp.connection.closed'][] = []

  @OnEvent('mcp.connection.established')
  onEstablished(c: McpNativeEventPayloads['mcp.connection.established']) {
    this.established.push(c)
  }

  @OnEvent('mcp.connection.closed')
  onClosed(c: McpNativeEventPayloads['mcp.connection.closed']) {
    this.closed.push(c)
  }
}
