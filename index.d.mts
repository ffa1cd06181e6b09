// Typings of the ESM entry (index.mjs): the same declarations as the CommonJS entry.
import * as api from './index.js'

export * from './index.js'
export default api
