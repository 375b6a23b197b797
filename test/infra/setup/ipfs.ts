/**
 * Kubo for the IPFS driver's tests: the binary (test/infra/kubo builds it from its Go module when
 * it is not cached, saying so on stderr), and one shared test node. Test files that count or
 * change what a node holds start their own (test/infra/kubo/node.mjs: about 0.3 s).
 * SAI_TEST_IPFS_API_URL names your own node as the shared one instead.
 */
import type { TestProject } from 'vitest/node'
import { ensureKubo } from '../kubo/install.mjs'
import { startKubo } from '../kubo/node.mjs'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared node's RPC API. */
    ipfsApiUrl: string
    /** The Kubo binary, for a test file's own nodes. */
    kuboBinary: string
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const binary = ensureKubo()
  project.provide('kuboBinary', binary)
  const external = process.env.SAI_TEST_IPFS_API_URL
  if (external !== undefined && external !== '') {
    project.provide('ipfsApiUrl', external)
    return undefined
  }
  const node = await startKubo({ binary })
  project.provide('ipfsApiUrl', node.url)
  return node.stop
}
