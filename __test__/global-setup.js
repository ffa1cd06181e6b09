'use strict'
// Loads the addon once in Jest's own process before any test file runs. napi-rs creates a
// per-environment, unref'd threadsafe function ("CustomGC") when the addon registers; created
// here, outside the test files, it is not mistaken for a handle a test leaked, so
// `--detectOpenHandles` reports only what our code leaves open.
module.exports = async () => {
  require('..')
}
