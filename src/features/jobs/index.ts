/**
 * Jobs over many objects that any application can run: `importTree` (a folder into a store) and
 * `migrate` (a store into another), incremental: a rerun copies every item its JSONL mapping does not record.
 *
 * @example
 * ```ts
 * import { importTree, migrate } from 'sai-image-storage/jobs'
 *
 * const summary = await importTree(storage, '/srv/dashboard/original', { mapping: 'import.jsonl', exclude: ['*.txt'] })
 * await migrate(fsStore, s3Store, { mapping: 'migrate.jsonl', concurrency: 8 })
 * ```
 */
export { importTree, notImagesFile, type ImportOptions, type ImportSummary } from './import.js'
export { copyObject, migrate, planMigration, type MigrateSummary } from './migrate.js'
export type { JobOptions, JobSummary } from './runner.js'
