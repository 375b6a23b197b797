/**
 * sai-image-storage: every raw camera frame stored once, under its content hash.
 *
 * The main entry holds what an application needs: the factory, the `ImageStorage` types, the
 * errors, the HTTP handler and the tracing channels. Drivers, replication, retention, jobs,
 * variants and the dashboard back-fill have entry points of their own (docs/development.md).
 *
 * @example
 * ```ts
 * import { createImageStorage, toInferenceFields } from 'sai-image-storage'
 *
 * const storage = createImageStorage() // SAI_IMAGE_STORAGE_DRIVER, SAI_IMAGE_STORAGE_PATH, ...
 * const result = await storage.store(jpegBuffer) // resolves once the bytes are durable
 * const bytes = await storage.fetch(result.hash) // verified against the hash
 * response.json({ ...prediction, ...toInferenceFields(result) })
 * ```
 */
export {
  createImageStorage,
  imageStorage,
  filesystemConfig,
  ipfsConfig,
  s3Config,
  type CreateImageStorageOptions
} from './features/factory/index.js'
export { toInferenceFields } from './core/inference-fields.js'
export type {
  AbortOptions,
  ImageEntry,
  ImageStat,
  ImageStorage,
  ListOptions,
  StorageResult,
  StoreOptions
} from './core/types.js'
export type { ImageInput } from './core/input.js'
export type { VerifyOptions, VerifyReport } from './core/verify-report.js'
export { parseImageRef, type ImageRef } from './core/ref.js'
export {
  ImageStorageError,
  InvalidRefError,
  InvalidInputError,
  TooLargeError,
  NotFoundError,
  IntegrityError,
  StorageUnavailableError,
  ConfigError,
  type ErrorCode
} from './core/errors.js'
export { createImageHandler, type ImageHandlerOptions } from './features/http/index.js'
export { TRACING_CHANNELS, type TraceContext, type TracedOperation } from './core/tracing.js'
export type { Logger } from './core/logger.js'
