#!/usr/bin/env bash
# Checks that every relative link in README.md and docs/*.md points to a file that exists and,
# when it names an anchor, to a heading that exists there (GitHub's slug rules). External
# links are not fetched. Exits non-zero listing each broken link.
set -euo pipefail
cd "$(dirname "$0")/.."
node - README.md docs/*.md <<'JS'
const fs = require('node:fs')
const path = require('node:path')

// GitHub's heading ids: lower case, punctuation dropped, spaces to '-', repeats numbered.
function slugs(file) {
  const seen = new Map()
  const out = new Set()
  let fence = false
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence
    if (fence) continue
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!m) continue
    const text = m[1].replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    let s = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
    const n = seen.get(s) || 0
    seen.set(s, n + 1)
    if (n) s = `${s}-${n}`
    out.add(s)
  }
  // Explicit anchors: <a id="..."> / <a name="...">
  for (const m of fs.readFileSync(file, 'utf8').matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1])
  return out
}

const cache = new Map()
const anchorsOf = (f) => (cache.has(f) ? cache.get(f) : cache.set(f, slugs(f)).get(f))
const broken = []
let count = 0
for (const file of process.argv.slice(2)) {
  let fence = false
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence
    if (fence) return
    const text = line.replace(/`[^`]*`/g, 'x')
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
      count++
      const [p, anchor] = target.split('#')
      const dest = p ? path.normalize(path.join(path.dirname(file), decodeURIComponent(p))) : file
      const where = `${file}:${i + 1}: ${target}`
      if (!fs.existsSync(dest)) {
        broken.push(`${where} (no such file)`)
        continue
      }
      if (anchor !== undefined) {
        if (!dest.endsWith('.md')) broken.push(`${where} (anchor on a non-markdown file)`)
        else if (!anchorsOf(dest).has(anchor)) broken.push(`${where} (no heading #${anchor} in ${dest})`)
      }
    }
  })
}
if (broken.length) {
  console.error(`check-docs: ${broken.length} broken link(s) of ${count}:\n  ${broken.join('\n  ')}`)
  process.exit(1)
}
console.log(`check-docs: ${count} relative links and anchors resolve`)
JS
