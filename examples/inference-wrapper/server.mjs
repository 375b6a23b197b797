// The Node inference wrapper: receives an image (multipart, base64 or data URL), stores it,
// forwards it to the inference service, and adds image_hash / image_path to the answer.
//
//   node examples/inference-wrapper/server.mjs           starts everything, sends three requests, stops
//   node examples/inference-wrapper/server.mjs --serve   keeps serving on PORT (default 8000)
//   INFERENCE_URL=http://model:9000/predict ...          uses a real inference service
import { createServer } from 'node:http'
import { Readable } from 'node:stream'
import { createImageStorage, ImageStorageError, toInferenceFields } from 'sai-image-storage'
import { testJpeg } from 'sai-image-storage/testing'

const storage = createImageStorage()
const STATUS = { ERR_INVALID_INPUT: 400, ERR_TOO_LARGE: 413, ERR_STORAGE_UNAVAILABLE: 503 }
// what the client is told: what was wrong with its request. Not err.message, which is for the
// operator and names the server's settings (allowNonImage, SAI_IMAGE_STORAGE_MAX_BYTES...)
const TOLD = {
  ERR_INVALID_INPUT: 'not an image: send a JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC or AVIF',
  ERR_TOO_LARGE: 'the image is too large',
  ERR_STORAGE_UNAVAILABLE: 'the image store is unavailable: try again later'
}

/**
 * The image of a request: a multipart field "image", or JSON { "image": base64 or data URL }.
 * Only a file or a string: an object such as { "path": "/etc/…" } would make the server read its own files.
 */
async function imageOf(req) {
  const type = req.headers['content-type'] ?? ''
  const request = new Request('http://local/', {
    method: 'POST',
    headers: req.headers,
    body: Readable.toWeb(req),
    duplex: 'half'
  })
  let image = null
  if (type.startsWith('multipart/form-data')) image = (await request.formData().catch(() => null))?.get('image')
  if (type.startsWith('application/json')) image = (await request.json().catch(() => null))?.image
  return typeof image === 'string' || image instanceof Blob ? image : null
}

export function inferenceWrapper(inferenceUrl) {
  return async (req, res) => {
    const reply = (status, body) =>
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))
    if (req.method !== 'POST' || req.url !== '/infer') return reply(404, { error: 'POST /infer' })
    try {
      const image = await imageOf(req)
      if (image == null)
        return reply(400, { error: 'send the image as multipart field "image" or JSON { "image": base64 }' })
      const stored = await storage.store(image) // durable before we answer
      const bytes = await storage.fetch(stored.hash) // exactly the bytes that were stored
      const inference = await fetch(inferenceUrl, {
        method: 'POST',
        headers: { 'Content-Type': stored.mimeType },
        body: bytes
      })
      reply(inference.status, { ...(await inference.json()), ...toInferenceFields(stored) })
    } catch (err) {
      if (err instanceof ImageStorageError)
        return reply(STATUS[err.code] ?? 500, { error: err.code, message: TOLD[err.code] ?? 'internal error' })
      reply(500, { error: 'internal error' })
    }
  }
}

/** A stand-in for the model: answers every image with one detection. */
function standInInference() {
  return createServer((req, res) => {
    let size = 0
    req.on('data', chunk => {
      size += chunk.length
    })
    req.on('end', () =>
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ model: 'stand-in', bytes: size, detections: [{ label: 'smoke', confidence: 0.87 }] }))
    )
  })
}

const listen = (server, port = 0) =>
  new Promise(resolve => server.listen(port, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)))

let inferenceUrl = process.env.INFERENCE_URL
const servers = []
if (inferenceUrl === undefined) {
  const model = standInInference()
  servers.push(model)
  inferenceUrl = `${await listen(model)}/predict`
}
const wrapper = createServer(inferenceWrapper(inferenceUrl))
servers.push(wrapper)

if (process.argv.includes('--serve')) {
  console.log(
    `inference wrapper on ${await listen(wrapper, Number(process.env.PORT ?? 8000))}/infer, model at ${inferenceUrl}`
  )
} else {
  const url = `${await listen(wrapper)}/infer`
  const frame = testJpeg('camera 7', 600_000) // a valid JPEG of a camera frame's size
  const form = new FormData()
  form.set('image', new Blob([frame], { type: 'image/jpeg' }), 'cam7.jpg')
  const requests = {
    multipart: { method: 'POST', body: form },
    base64: {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: frame.toString('base64') })
    },
    'data URL': {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: `data:image/jpeg;base64,${frame.toString('base64')}` })
    },
    'not an image': {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: Buffer.from('hello').toString('base64') })
    },
    'a path instead of an image': {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: { path: '/etc/hostname' } })
    },
    'malformed JSON': { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"image": ' }
  }
  for (const [name, init] of Object.entries(requests)) {
    const response = await fetch(url, init)
    console.log(`${name}: ${response.status} ${JSON.stringify(await response.json())}`)
  }
  for (const server of servers) server.close()
}
