'use strict'
// IdMap: the per-request tables (call id → context, ticket → exchange), a `Map` look-alike over
// an object whose integer keys V8 keeps in a number dictionary.
//
// Why not a `Map`: V8 replaces a Map's hash table as entries come and go, and links each
// replaced table to its successor, entries and all. Once one table has outlived a young-
// generation collection it sits in the old generation, where a dead object still counts as a
// root for young collections: every later table, and every request its entries name (contexts,
// responses, sockets' buffers), then survives each young collection until a full one. With 16 or
// more requests in flight this promoted ~2.3 MB per young collection and cost ~9 µs of GC pause
// per tools/call in handler mode (docs/handler-mode.md, "Garbage"). A dictionary's
// replaced store has no such link.
class IdMap {
  constructor() {
    this._o = Object.create(null)
    this.size = 0
  }

  get(id) {
    return this._o[id]
  }

  has(id) {
    return this._o[id] !== undefined
  }

  /** `value` must not be undefined. */
  set(id, value) {
    if (this._o[id] === undefined) this.size++
    this._o[id] = value
    return this
  }

  delete(id) {
    if (this._o[id] === undefined) return false
    delete this._o[id]
    this.size--
    return true
  }
}

module.exports = { IdMap }
