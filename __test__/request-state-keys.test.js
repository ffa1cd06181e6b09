'use strict'
// requestStateKeys (issue 16, "Shared keys"): two server instances given the same key list accept
// each other's sealed requestState, so a multi round-trip retry may land on either; instances with
// their own random keys refuse it (-32602) and the callback does not run; bad keys fail start().
const crypto = require('node:crypto')
const { startServer, meta, modernPost, expectRpcError } = require('./helpers/eras')

const OBJ = { type: 'object', properties: {} }
const ELICIT = {
  method: 'elicitation/create',
  params: { message: 'Your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
}
const key = () => crypto.randomBytes(32).toString('base64')

function instance(name, keys, runs) {
  return startServer({
    ...(keys ? { requestStateKeys: keys } : {}),
    tools: [{ name: 'ask', inputSchema: OBJ }],
    callTool: async (_call, ctx) => {
      runs.push({ name, state: ctx.requestState, answer: ctx.inputResponses?.name?.content?.name })
      if (!ctx.inputResponses) return { resultType: 'input_required', inputRequests: { name: ELICIT }, requestState: `from-${name}` }
      return { content: [{ type: 'text', text: `hello ${ctx.inputResponses.name.content.name} (${ctx.requestState})` }] }
    },
  })
}

const caps = () => meta({ capabilities: { elicitation: {} } })
const first = (url) => modernPost(url, 'tools/call', { name: 'ask', arguments: {}, _meta: caps() })
const retry = (url, requestState) =>
  modernPost(url, 'tools/call', {
    name: 'ask',
    arguments: {},
    inputResponses: { name: { action: 'accept', content: { name: 'Ada' } } },
    requestState,
    _meta: caps(),
  })

test('a retry lands on the other instance of a fleet sharing requestStateKeys', async () => {
  const runs = []
  const k = key()
  const a = await instance('a', [k], runs)
  const b = await instance('b', [k], runs)
  try {
    const r1 = await first(a.url)
    expect(r1.json.result.resultType).toBe('input_required')
    const r2 = await retry(b.url, r1.json.result.requestState)
    expect(r2.status).toBe(200)
    expect(r2.json.result.content[0].text).toBe('hello Ada (from-a)')
    expect(runs).toEqual([
      { name: 'a', state: undefined, answer: undefined },
      { name: 'b', state: 'from-a', answer: 'Ada' },
    ])
  } finally {
    await Promise.all([a.close(), b.close()])
  }
})

test('rotation: an instance sealing with a new key still opens states of the old one', async () => {
  const runs = []
  const [oldKey, newKey] = [key(), key()]
  const old = await instance('old', [oldKey], runs)
  const rotated = await instance('rotated', [newKey, oldKey], runs)
  const dropped = await instance('dropped', [newKey], runs)
  try {
    const fromOld = (await first(old.url)).json.result.requestState
    expect((await retry(rotated.url, fromOld)).json.result.content[0].text).toBe('hello Ada (from-old)')
    // Once the old key is dropped, its states are refused before any JS runs.
    const before = runs.length
    expectRpcError(await retry(dropped.url, fromOld), 200, -32602)
    expect(runs.length).toBe(before)
    // What the rotated instance seals opens where the new key is known, and not with the old key alone.
    const fromRotated = (await first(rotated.url)).json.result.requestState
    expect((await retry(dropped.url, fromRotated)).json.result.content[0].text).toBe('hello Ada (from-rotated)')
    expectRpcError(await retry(old.url, fromRotated), 200, -32602)
  } finally {
    await Promise.all([old.close(), rotated.close(), dropped.close()])
  }
})

test('without requestStateKeys each instance keeps its own key: the retry elsewhere is refused', async () => {
  const runs = []
  const a = await instance('a', null, runs)
  const b = await instance('b', null, runs)
  try {
    const state = (await first(a.url)).json.result.requestState
    expectRpcError(await retry(b.url, state), 200, -32602)
    expect(runs.map((r) => r.name)).toEqual(['a'])
    // The issuing instance still accepts it.
    expect((await retry(a.url, state)).json.result.content[0].text).toBe('hello Ada (from-a)')
  } finally {
    await Promise.all([a.close(), b.close()])
  }
})

test.each([
  [['c2hvcnQ='], /requestStateKeys\[0\] is 5 bytes/],
  [[crypto.randomBytes(32).toString('base64'), 'not base64!'], /requestStateKeys\[1\] is not base64/],
])('bad keys make start reject: %j', async (keys, message) => {
  await expect(startServer({ requestStateKeys: keys, tools: [] })).rejects.toThrow(message)
})
