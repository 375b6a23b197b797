import { defineConfig } from 'vitest/config'

// The AWS SDK warns once per process, on Node 20, that its releases after early January 2027 need
// Node 22 (the peers are capped below them: see docs/drivers/s3.md). Every worker and every child
// process that loads it would print that notice into the test log; they inherit this.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: [
      'test/infra/setup/build.ts',
      'test/infra/setup/ipfs.ts',
      'test/infra/setup/postgres.ts',
      'test/infra/setup/ceph.ts'
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', ['json', { outputFile: '.test-results.json' }]]
  }
})
