// npm run demo: stores real camera frames in ./data/images (or SAI_IMAGE_STORAGE_PATH), fetches
// them back verified, and shows deduplication: run it twice and every store is a duplicate.
import { createImageStorage, toInferenceFields } from 'sai-image-storage'
import { testPng } from 'sai-image-storage/testing'
import { cameraFrame } from './frames.mjs'

const storage = createImageStorage()
console.log(`driver: ${storage.driver}, root: ${storage.root ?? '-'}\n`)

const images = [
  ['camera 1, frame 1 (JPEG 2880x1616)', cameraFrame(1)],
  ['camera 2, frame 1 (JPEG 2880x1616)', cameraFrame(2)],
  ['camera 1, frame 1 again (the same bytes)', cameraFrame(1)],
  ['a small PNG', testPng('demo', 64, 64)]
]

for (const [label, bytes] of images) {
  const result = await storage.store(bytes)
  const fetched = await storage.fetch(result.hash)
  console.log(label)
  console.log(`  hash       ${result.hash}`)
  console.log(`  key        ${result.key}   (what the dashboard keeps in Postgres)`)
  console.log(`  size       ${result.size} bytes, ${result.mimeType}`)
  console.log(`  duplicate  ${result.isDuplicate}`)
  console.log(
    `  fetched    ${fetched.length} bytes, ` +
      `${fetched.equals(bytes) ? 'identical, verified against the hash' : 'DIFFERENT'}`
  )
  console.log(`  response   ${JSON.stringify(toInferenceFields(result))}\n`)
  if (!fetched.equals(bytes)) process.exitCode = 1
}

let objects = 0
for await (const _ of storage.list()) objects++
console.log(`The store now holds ${objects} objects. Run \`npm run demo\` again: every store is a duplicate.`)
