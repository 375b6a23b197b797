// The dashboard ETL (CommonJS): reads inference results (JSONL), makes sure each frame is in the
// store, and writes execution_images rows with the hash and the relative key: through pg when
// DATABASE_URL is set (npm install pg), printed as JSON lines otherwise.
//
//   node examples/dashboard-etl/etl.cjs results.jsonl
//   node examples/dashboard-etl/etl.cjs                 makes sample results first
//
// A result line has execution_id and either image_hash (already stored by the inference wrapper)
// or image (base64, stored here).
const { readFileSync } = require('node:fs')
const { createImageStorage } = require('sai-image-storage')
const { testJpeg } = require('sai-image-storage/testing')

const storage = createImageStorage()

async function rowFor(result) {
  const image = result.image !== undefined ? await storage.store(result.image) : await storage.stat(result.image_hash)
  // the key is relative to the store's root: the database never holds absolute paths
  // image_hash is the SHA-256 hex on every driver (image.hash is the CID on IPFS)
  return {
    execution_id: result.execution_id,
    image_hash: image.sha256,
    image_path: image.key,
    size: image.size,
    mime_type: image.mimeType
  }
}

async function sampleResults() {
  const results = []
  for (let id = 1; id <= 3; id++) {
    const frame = testJpeg(`etl sample ${id}`, 60000)
    if (id === 1) results.push({ execution_id: id, image: frame.toString('base64') })
    else results.push({ execution_id: id, image_hash: (await storage.store(frame)).hash })
  }
  return results
}

async function database() {
  if (!process.env.DATABASE_URL) return { write: async row => console.log(JSON.stringify(row)), end: async () => {} }
  const { Client } = require('pg')
  const client = new Client({ connectionString: process.env.DATABASE_URL })
  await client.connect()
  // the dashboard's table, with the image_hash column that `sai-images backfill-hashes --migrate` adds
  await client.query(`CREATE TABLE IF NOT EXISTS execution_images (
    execution_id bigint PRIMARY KEY,
    original_path text NOT NULL CHECK (original_path NOT LIKE '/%' AND original_path NOT LIKE './%'),
    image_hash char(64) CHECK (image_hash ~ '^[0-9a-f]{64}$'),
    size_bytes integer NOT NULL, mime_type text NOT NULL)`)
  return {
    // a result sent again updates its row: the ETL can be rerun
    write: async row =>
      client.query(
        `INSERT INTO execution_images (execution_id, original_path, image_hash, size_bytes, mime_type)
      VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (execution_id) DO UPDATE SET original_path = $2, image_hash = $3, size_bytes = $4, mime_type = $5`,
        [row.execution_id, row.image_path, row.image_hash, row.size, row.mime_type]
      ),
    end: async () => client.end()
  }
}

async function main() {
  const file = process.argv[2]
  const results = file
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(line => JSON.parse(line))
    : await sampleResults()
  const db = await database()
  try {
    for (const result of results) await db.write(await rowFor(result))
  } finally {
    await db.end()
  }
}

main().catch(err => {
  console.error(`etl: ${err.code ?? ''} ${err.message}`)
  process.exitCode = 1
})
