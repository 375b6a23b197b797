// An image service with Prometheus metrics: plain node:http, prom-client, sai-image-storage.
//
//   node examples/metrics/server.mjs        serves on PORT (default 9464; 0 picks a free one)
//   PUT  /images            the body is an image: stores it, answers { hash, size, isDuplicate }
//   GET  /images/<hash>     the verified bytes
//   GET  /metrics           Prometheus' text format
//
// The store is createImageStorage()'s: SAI_IMAGE_STORAGE_DRIVER, SAI_IMAGE_STORAGE_PATH, SAI_S3_*...
import { createServer } from 'node:http'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createImageStorage, ImageStorageError } from 'sai-image-storage'
import { instrumentImageStorage } from './instrument.mjs'

const STATUS = {
  ERR_INVALID_REF: 400,
  ERR_INVALID_INPUT: 400,
  ERR_TOO_LARGE: 413,
  ERR_NOT_FOUND: 404,
  ERR_INTEGRITY: 500,
  ERR_STORAGE_UNAVAILABLE: 503
}

const storage = createImageStorage()
const registry = new Registry()
collectDefaultMetrics({ register: registry })
instrumentImageStorage({ registry, storage })

async function body(req) {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  return Buffer.concat(chunks)
}

const server = createServer(async (req, res) => {
  const reply = (status, value, type = 'application/json') =>
    res.writeHead(status, { 'Content-Type': type }).end(type === 'application/json' ? JSON.stringify(value) : value)
  try {
    if (req.method === 'GET' && req.url === '/metrics')
      return reply(200, await registry.metrics(), registry.contentType)
    if (req.method === 'PUT' && req.url === '/images') {
      const { hash, size, isDuplicate } = await storage.store(await body(req))
      return reply(201, { hash, size, isDuplicate })
    }
    const match = /^\/images\/([^/]+)$/.exec(req.url ?? '')
    if (req.method === 'GET' && match !== null)
      return reply(200, await storage.fetch(decodeURIComponent(match[1])), 'image/jpeg')
    return reply(404, { error: 'PUT /images, GET /images/<hash>, GET /metrics' })
  } catch (err) {
    if (err instanceof ImageStorageError)
      return reply(STATUS[err.code] ?? 500, { error: err.code, message: err.message })
    return reply(500, { error: 'internal error' })
  }
})

server.listen(Number(process.env.PORT ?? 9464), '127.0.0.1', () => {
  console.log(`metrics example listening on http://127.0.0.1:${server.address().port}`)
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () =>
    server.close(async () => {
      await storage.close()
      process.exit(0)
    })
  )
}
