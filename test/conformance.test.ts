import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../drivers/fs/index.js'
import { MemoryDriver } from '../drivers/memory.js'
import { PrefixSharding } from '../src/core/sharding.js'
import { describeImageStorage } from '../src/testing/index.js'
import { tempDir } from './helpers/tmp.js'

const api = { describe, it, expect }

describeImageStorage({ name: 'MemoryDriver', create: () => new MemoryDriver() }, api)
describeImageStorage({ name: 'FilesystemDriver (storage.py layout)', create: async () => new FilesystemDriver({ root: await tempDir() }) }, api)
describeImageStorage({ name: 'FilesystemDriver (depth 1, width 3)', create: async () => new FilesystemDriver({ root: await tempDir(), sharding: new PrefixSharding({ depth: 1, width: 3 }) }) }, api)
describeImageStorage({ name: 'FilesystemDriver (flat, fsync off)', create: async () => new FilesystemDriver({ root: await tempDir(), sharding: new PrefixSharding({ depth: 0 }), fsync: false }) }, api)
