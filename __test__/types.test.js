'use strict'
// The public typings (index.d.ts) must compile in strict mode against real usage, and every
// runtime export must be declared.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

test('index.d.ts type-checks the documented usage under --strict', () => {
  const tsc = require.resolve('typescript/bin/tsc')
  const args = [tsc, '--strict', '--noEmit', '--target', 'es2022', '--module', 'commonjs', '--moduleResolution', 'node', '--types', 'node', path.join(__dirname, 'fixtures', 'types-usage.ts')]
  let out = ''
  try {
    out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' })
  } catch (e) {
    out = `${e.stdout}${e.stderr}`
    throw new Error(`tsc failed:\n${out}`)
  }
  expect(out).toBe('')
})

test('every runtime export is declared in the typings', () => {
  const dts = ['index.d.ts', 'lib/server.d.ts', 'lib/events.d.ts', 'lib/handler.d.ts'].map((f) => fs.readFileSync(path.join(root, f), 'utf8')).join('\n')
  const exported = Object.keys(require('..'))
  expect(exported.length).toBeGreaterThan(5)
  for (const name of exported) {
    expect({ name, declared: new RegExp(`(function|class|const)\\s+${name}\\b`).test(dts) }).toEqual({ name, declared: true })
  }
})
