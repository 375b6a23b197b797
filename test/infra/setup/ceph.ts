/**
 * A real S3 for the S3 driver's tests: SAI_TEST_S3_* (MinIO, AWS, your Ceph; SAI_TEST_S3_CONF its
 * ceph.conf, to start a gateway of one's own), or a throwaway
 * one-node Ceph 16 from Debian: one mon, one memstore OSD and a RADOS Gateway on free loopback
 * ports, auth none, everything in a temp dir, stopped and removed afterwards. Tests read the
 * connection with inject('s3') and make their own buckets.
 */
import type { TestProject } from 'vitest/node'
import { ensureDebianPackages } from './services.js'

export interface S3Connection {
  /**
   * The local cluster's ceph.conf (not with SAI_TEST_S3_*): to start a gateway of one's own (cluster.mjs startGateway).
   */
  conf?: string
  endpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3: S3Connection
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const env = process.env
  if (env.SAI_TEST_S3_ENDPOINT !== undefined && env.SAI_TEST_S3_ENDPOINT !== '') {
    project.provide('s3', {
      conf: env.SAI_TEST_S3_CONF || undefined,
      endpoint: env.SAI_TEST_S3_ENDPOINT,
      region: env.SAI_TEST_S3_REGION ?? 'us-east-1',
      accessKeyId: env.SAI_TEST_S3_ACCESS_KEY_ID ?? '',
      secretAccessKey: env.SAI_TEST_S3_SECRET_ACCESS_KEY ?? ''
    })
    return undefined
  }
  ensureDebianPackages(
    '/usr/bin/radosgw',
    ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph-common'],
    'the S3 driver tests (a Ceph RADOS Gateway)'
  )
  // @ts-expect-error a plain ES module without types (shared with bench/run.mjs)
  const { startCeph } = await import('../ceph/cluster.mjs')
  const cluster: { connection: S3Connection; stop: () => Promise<void> } = await startCeph()
  project.provide('s3', cluster.connection)
  return cluster.stop
}
