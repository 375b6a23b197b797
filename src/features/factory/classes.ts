/** The classes the factory makes stores of, given to it: all of them (index.ts) or those a setting names (open.ts). */
import type { FilesystemDriver } from '../../drivers/fs/index.js'
import type { IpfsDriver } from '../../drivers/ipfs/index.js'
import type { MemoryDriver } from '../../drivers/memory/index.js'
import type { S3Driver } from '../../drivers/s3/index.js'
import type { createReplicatedStorage } from '../replication/index.js'

/** The classes (and the replicated store) the factory makes stores of: those it was given. */
export interface DriverClasses {
  fs?: typeof FilesystemDriver
  memory?: typeof MemoryDriver
  ipfs?: typeof IpfsDriver
  s3?: typeof S3Driver
  replicated?: typeof createReplicatedStorage
}

/** The class `name` names; one not given is a bug of whoever loaded them (open.ts), not a setting. */
export function classOf<K extends keyof DriverClasses>(classes: DriverClasses, name: K): NonNullable<DriverClasses[K]> {
  const found = classes[name]
  if (found === undefined) throw new Error(`the factory was not given the ${name} driver`)
  return found
}
