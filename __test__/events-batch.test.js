'use strict'
// The native batch format (one JSON array per push, see src/bindings/events.rs) must give back
// every line exactly: non-ASCII and control characters, astral characters, U+2028, `\r` inside
// a line, and event lines not written as `[MCP_CONNECTION] ` + JSON (blanks, tabs, `\r\n`).
const { ConnectionEventHub } = require('..')

function stream() {
  let seed = 7
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
  const pick = (a) => a[Math.floor(rand() * a.length)]
  const ev = () => ({
    type: 'MCP_CONNECTION_EVENT',
    eventType: 'connected',
    serverId: pick(['s', 'ü✓', '工具', 'a"b\\c', '\u2028x', '😀']),
    clientInfo: { id: pick(['c1', 'é', 'x\ty', '\u0001']), connectedAt: '2026-11-24T00:00:00.000Z' },
    connectionStats: { totalConnections: 1, activeConnections: 1 },
    timestamp: '2026-11-24T00:00:00.000Z',
  })
  const lines = []
  for (let i = 0; i < 1500; i++) {
    const r = rand()
    let l
    if (r < 0.3) {
      l = pick(['', ' ', '[MCP_CONNECTION] ', '  [MCP_CONNECTION]\t', '[MCP_CONNECTION]', '\t[MCP_CONNECTION]  ']) +
        JSON.stringify(ev()) + pick(['', '', ' ', '\t', ' \r'])
    } else if (r < 0.35) {
      l = '[MCP_CONNECTION] {bad json ' + pick(['é', '"', '\\', 'x'])
    } else {
      l = pick(['plain', 'ünï', '工具调用 ✓', 'tab\there', 'quote"back\\slash', '\u0001\u001f ctl', '😀 astral', '\u2028 ls', 'cr\rmid', 'x'.repeat(50)])
    }
    lines.push(l + pick(['\n', '\r\n']))
  }
  return lines.join('')
}

function reference(text) {
  const out = []
  for (const raw of text.split('\n').slice(0, -1)) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    const t = line.replace(/^[ \t]+/, '')
    if (!t.startsWith('[MCP_CONNECTION]')) {
      out.push({ type: 'log', line })
      continue
    }
    try {
      out.push({ type: 'event', line, event: JSON.parse(t.slice(16).replace(/^[ \t\r]+|[ \t\r]+$/g, '')) })
    } catch {
      out.push({ type: 'parse_error' })
    }
  }
  return out
}

test('lines come back exactly, however the stream is cut', () => {
  const text = stream()
  const buf = Buffer.from(text)
  const want = reference(text)
  const cps = Array.from(text)
  for (const mode of ['buffer', 'string']) {
    for (const size of [1, 7, 256, 4096, 1 << 20]) {
      const hub = new ConnectionEventHub()
      const got = []
      const n = mode === 'buffer' ? buf.length : cps.length
      for (let i = 0; i < n; i += size) {
        got.push(...hub.push('s', mode === 'buffer' ? buf.subarray(i, i + size) : cps.slice(i, i + size).join('')))
      }
      got.push(...hub.end('s'))
      const simplified = got.map((o) => (o.type === 'parse_error' ? { type: o.type } : o.type === 'log' ? { type: o.type, line: o.line } : { type: o.type, line: o.line, event: o.event }))
      expect({ mode, size, lines: simplified }).toEqual({ mode, size, lines: want })
    }
  }
})
