/**
 * Marks: small named texts a store keeps beside its objects, never listed as objects (fs:
 * `{root}/.marks/<name>`, S3: `{prefix}.marks/<name>`). Replication keeps a replica's owner there
 * (features/replication/owner.ts). A driver without marks leaves `ImageStorage.marks` undefined.
 */
import type { AbortOptions } from './types.js'

export interface StoreMarks {
  /** Where the marks are, safe to print. */
  readonly location: string
  /** The text under `name`, or undefined if there is none. */
  read: (name: string, options?: AbortOptions) => Promise<string | undefined>
  /** Writes `text` under `name` only if nothing is there yet, durably: false if something was. */
  create: (name: string, text: string, options?: AbortOptions) => Promise<boolean>
  /** Writes `text` under `name` whatever was there, durably (the old text is replaced whole). */
  replace: (name: string, text: string, options?: AbortOptions) => Promise<void>
}
