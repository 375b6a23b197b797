// npm run demo: stores camera-sized frames in ./data/images (or SAI_IMAGE_STORAGE_PATH), fetches
// them back verified, and shows deduplication: run it twice and every store is a duplicate.
// Only the package's own exports: it runs as shipped, from node_modules/sai-image-storage/examples.
import { createImageStorage, toInferenceFields } from 'sai-image-storage'
import { testJpeg, testPng } from 'sai-image-storage/testing'

/** A valid JPEG of a camera frame's size (~600 KB), the same bytes for the same camera and frame. */
const cameraFrame = camera => testJpeg(`camera ${camera}, frame 1`, 600_000)

const storage = createImageStorage()
console.log(`driver: ${storage.driver}, root: ${storage.root ?? '-'}\n`)

const images = [
  ['camera 1, frame 1 (JPEG, 600 KB)', cameraFrame(1)],
  ['camera 2, frame 1 (JPEG, 600 KB)', cameraFrame(2)],
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
