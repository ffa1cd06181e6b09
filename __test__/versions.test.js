'use strict'
const addon = require('..')

test('the addon loads and lists both eras', () => {
  const versions = addon.supportedProtocolVersions()
  expect(versions).toEqual(['2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'])
})
