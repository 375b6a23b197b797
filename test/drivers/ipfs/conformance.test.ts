// The conformance suite on a Kubo node of this file's own (its counts see no other file's stores),
// and on yours too when SAI_TEST_IPFS_API_URL names one.
import { describe, expect, it } from 'vitest'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { describeImageStorage } from '../../../src/testing/index.js'
import { useKubo } from './helpers.js'

const node = useKubo()
describeImageStorage(
  { name: 'IpfsDriver on Kubo', create: () => new IpfsDriver({ url: node.url }), timeout: 60_000 },
  { describe, it, expect }
)

const external = process.env.SAI_TEST_IPFS_API_URL
if (external !== undefined && external !== '') {
  describeImageStorage(
    { name: `IpfsDriver (${external})`, create: () => new IpfsDriver({ url: external }), timeout: 60_000 },
    { describe, it, expect }
  )
}
