// libvips in-process, through sharp, on the operations `cargo bench --bench pipeline --
// operations` times (issue 15): the 12 MP baseline JPEG (tests/fixtures/samples/kleiber-12mp.jpg)
// to 400x400 JPEG q80 with the centre crop and with libvips' attention strategy (what
// `vipsthumbnail --smartcrop attention` does), and `gaussblur` / `sharpen` alone on a 400x300
// RGB image. One libvips thread, CPU time per run (the median of the runs); the effects are
// timed as the pipeline with the effect less the same pipeline without it.
//
// Usage: (cd benches/libvips && npm ci && node operations.js [RUNS])
const { sharp, input, timed } = require("./common");

const runs = Number(process.argv[2] || 30);
const median = async (job) => (await timed(job, runs)).median;

const square = (position) => () =>
  sharp(input, { failOn: "none" })
    .resize(400, 400, { fit: "cover", position, fastShrinkOnLoad: false })
    .jpeg({ quality: 80 })
    .toBuffer();

async function main() {
  console.log(`sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, ${runs} runs each`);
  const centre = await median(square("centre"));
  const attention = await median(square(sharp.strategy.attention));
  const entropy = await median(square(sharp.strategy.entropy));
  console.log(`to 400x400, centre: median ${centre.toFixed(1)} ms CPU`);
  console.log(`to 400x400, attention: median ${attention.toFixed(1)} ms CPU (${(attention / centre).toFixed(2)}x centre)`);
  console.log(`to 400x400, entropy: median ${entropy.toFixed(1)} ms CPU (${(entropy / centre).toFixed(2)}x centre)`);

  const { data, info } = await sharp(input).resize(400, 300).raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const plain = await median(() => sharp(data, raw).raw().toBuffer());
  for (const sigma of [0.5, 2, 8, 20, 100]) {
    const t = await median(() => sharp(data, raw).blur(sigma).raw().toBuffer());
    console.log(`gaussblur ${sigma} on 400x300: ${(t - plain).toFixed(2)} ms CPU beyond the copy (${t.toFixed(2)} in all)`);
  }
  for (const sigma of [0.5, 1, 3, 10]) {
    const t = await median(() => sharp(data, raw).sharpen({ sigma }).raw().toBuffer());
    console.log(`sharpen ${sigma} on 400x300: ${(t - plain).toFixed(2)} ms CPU beyond the copy (${t.toFixed(2)} in all)`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
