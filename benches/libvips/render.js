// libvips in-process, through sharp, on the renders `cargo bench --bench pipeline -- render`
// times: the 12 MP baseline JPEG (tests/fixtures/samples/kleiber-12mp.jpg) to 400, 600, 800,
// 1100 and 1280 px JPEG q80, one render at a time on one libvips thread, CPU time per render (the median
// of the runs). Two shrink-on-load rules: libvips' thumbnail rule (fastShrinkOnLoad off: the
// resample keeps a factor of two, what imgserver's default `quality` mode does) and sharp's
// default (what ipx does, imgserver's `fast` mode).
//
// Usage: (cd benches/libvips && npm ci && node render.js [RUNS])
const { sharp, input, timed } = require("./common");

const runs = Number(process.argv[2] || 30);

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
      const { median, min } = await timed(() => render(width, fast), runs);
      const rule = fast ? "sharp's default (fastShrinkOnLoad)" : "libvips thumbnail (fastShrinkOnLoad off)";
      console.log(`${width} px, ${rule}: median ${median.toFixed(1)} ms CPU, min ${min.toFixed(1)}`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
