// Synthetic camera frames: real, decodable JPEGs shaped like the SAI cameras' (2880x1616, ~600 KB):
// sky, a ridge line, a smoke plume, sensor noise. Deterministic per seed. For the repository's benches and
// tests: it needs jpeg-js (a devDependency; `npm install jpeg-js` to use it elsewhere). The examples that
// run as shipped (quickstart.mjs, inference-wrapper/) use the package's testJpeg instead.
import jpeg from 'jpeg-js'

export function cameraFrame(seed, width = 2880, height = 1616) {
  const data = Buffer.alloc(width * height * 4)
  let state = (seed * 2654435761) >>> 0
  const plumeX = width * (0.3 + (seed % 5) / 10)
  for (let y = 0; y < height; y++) {
    const horizon = height * 0.55 + Math.sin((y + seed) / 97) * 4
    for (let x = 0; x < width; x++) {
      state = (state * 1103515245 + 12345) >>> 0
      const noise = (state >>> 24) & 7
      const ridge = horizon + Math.sin(x / 180 + seed) * 60 + Math.sin(x / 43) * 12
      const smoke = y < ridge && Math.abs(x - plumeX - (ridge - y) * 0.4) < (ridge - y) * 0.25 ? 60 : 0
      const i = (y * width + x) * 4
      if (y < ridge) {
        data[i] = 110 + y / 16 + noise + smoke
        data[i + 1] = 150 + y / 20 + noise + smoke * 0.8
        data[i + 2] = 225 - y / 30 + noise
      } else {
        data[i] = 55 + noise * 3
        data[i + 1] = 80 + noise * 3
        data[i + 2] = 35 + noise
      }
      data[i + 3] = 255
    }
  }
  return jpeg.encode({ data, width, height }, 80).data
}
