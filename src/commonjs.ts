/**
 * The CommonJS build is this one bundle, so that each class exists once there as in the ESM build
 * (an error from `sai-image-storage/drivers/fs` is an `ImageStorageError` of the main entry). It
 * holds every entry point as a namespace named by its subpath in package.json "exports"; each
 * subpath's .cjs file is one line, written by tsup.config.ts, that hands out its namespace.
 */
export * as '.' from './index.js'
export * as './drivers/fs' from './drivers/fs/index.js'
export * as './drivers/memory' from './drivers/memory/index.js'
export * as './drivers/s3' from './drivers/s3/index.js'
export * as './drivers/ipfs' from './drivers/ipfs/index.js'
export * as './replication' from './features/replication/index.js'
export * as './retention' from './features/retention/index.js'
export * as './jobs' from './features/jobs/index.js'
export * as './variants' from './features/variants/index.js'
export * as './dashboard' from './features/dashboard/backfill.js'
export * as './testing' from './testing/index.js'
export * as './adapter' from './adapter.js'
