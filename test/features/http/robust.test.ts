// The handler under what clients and callers do wrong: a client that goes away mid-answer is no failure to report,
// and an onError that throws never ends the process (its rejection would: Node's default for an unhandled one).
import { writeFile } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createImageHandler, type ImageHandlerOptions } from '../../../src/features/http/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const servers: Server[] = []
afterAll(() => {
  for (const server of servers) server.close()
})

async function listen(storage: FilesystemDriver, options: ImageHandlerOptions): Promise<number> {
  const server = createServer(createImageHandler(storage, options))
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

describe('createImageHandler, misused', () => {
  it('a client that goes away mid-answer is not reported as a failure (no 500 to onError)', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const { hash } = await storage.store(testJpeg('gone mid-answer', 3_000_000))
    const reported: unknown[] = []
    // streamed (over verifyBeforeSendBytes), so the answer is under way when the client leaves
    const port = await listen(storage, { verifyBeforeSendBytes: 1000, onError: err => reported.push(err) })
    await new Promise<void>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', path: `/images/${hash}` }, res => {
        expect(res.statusCode).toBe(200)
        res.once('data', () => {
          req.destroy() // after the first chunk
          resolve()
        })
      })
      req.on('error', () => {})
      req.once('close', resolve)
      req.end()
      setTimeout(() => reject(new Error('no answer')), 10_000)
    })
    await new Promise(resolve => setTimeout(resolve, 300)) // the server side's close, seen
    expect(reported).toEqual([])
  })

  it('an onError that throws is said on stderr; the process goes on and the client gets its 500', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const { hash, path } = await storage.store(testJpeg('thrower', 20_000))
    await writeFile(path, Buffer.alloc(20_000))
    const port = await listen(storage, {
      onError: () => {
        throw new Error('a bug in the application')
      }
    })
    const unhandled: unknown[] = []
    const keep = (reason: unknown): void => {
      unhandled.push(reason)
    }
    process.on('unhandledRejection', keep)
    try {
      const response = await fetch(`http://127.0.0.1:${port}/images/${hash}`)
      expect(response.status).toBe(500)
      await response.arrayBuffer()
      await new Promise(resolve => setTimeout(resolve, 100))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', keep)
    }
  })
})
