// libvips in-process, through sharp, on the renders `cargo bench --bench pipeline -- render`
// times: the 12 MP baseline JPEG (tests/fixtures/samples/kleiber-12mp.jpg) to 400, 600, 800,
// 1100 and 1280 px JPEG q80, one render at a time on one libvips thread, CPU time per render (the median
// of the runs). Two shrink-on-load rules: libvips' thumbnail rule (fastShrinkOnLoad off: the
// resample keeps a factor of two, what imgserver's default `quality` mode does) and sharp's
// default (what ipx does, imgserver's `fast` mode).
//
// Usage: (cd benches/libvips && npm ci && node render.js [RUNS])
const fs = require("fs");
const path = require("path");
const sharp = require("sharp");

const runs = Number(process.argv[2] || 30);
const source = path.join(__dirname, "..", "..", "tests", "fixtures", "samples", "kleiber-12mp.jpg");
const input = fs.readFileSync(source);
sharp.concurrency(1);
sharp.cache(false);

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function render(width, fast) {
  return sharp(input, { failOn: "none" })
    .resize(width, null, { fastShrinkOnLoad: fast })
    .jpeg({ quality: 80 })
    .toBuffer({ resolveWithObject: true });
}

async function main() {
  console.log(`sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, ${runs} runs each`);
  for (const fast of [false, true]) {
    for (const width of [400, 600, 800, 1100, 1280]) {
      const { info } = await render(width, fast); // warm-up, and a check of the output
      if (info.width !== width || info.format !== "jpeg") throw new Error(`got ${JSON.stringify(info)}`);
      const samples = [];
      for (let i = 0; i < runs; i++) {
        const start = cpuMs();
        await render(width, fast);
        samples.push(cpuMs() - start);
      }
      samples.sort((a, b) => a - b);
      const median = samples[Math.floor(samples.length / 2)];
      const rule = fast ? "sharp's default (fastShrinkOnLoad)" : "libvips thumbnail (fastShrinkOnLoad off)";
      console.log(`${width} px, ${rule}: median ${median.toFixed(1)} ms CPU, min ${samples[0].toFixed(1)}`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
