/**
 * The work of every command, and the factory with every driver: one chunk of the bundle, imported when a command
 * runs (specs/index.ts). One chunk rather than one per command and driver: each module costs a start more to load
 * than its code costs to compile (bench/RESULTS-replication-cli.md, 2026-12-05).
 */
export { backfillHashes } from './backfill.js'
export { deleteCommand } from './delete.js'
export { fetch } from './fetch.js'
export { ipfsReindex } from './ipfs.js'
export { importCommand, migrate } from './jobs.js'
export { exists, list, stat, store } from './objects.js'
export { prune } from './prune.js'
export { quarantine } from './quarantine.js'
export { replicate } from './replicate.js'
export { evict, whereis } from './replication.js'
export { stats } from './stats.js'
export { status } from './status.js'
export { takeOverCommand } from './take-over.js'
export { variants } from './variants.js'
export { verify } from './verify.js'
export { createImageStorage, DRIVERS } from '../../features/factory/index.js'
