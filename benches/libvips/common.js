// What the libvips scripts share: the 12 MP sample, sharp on one thread without its cache, and
// the median CPU time of a job.
const fs = require("fs");
const path = require("path");
const sharp = require("sharp");

const source = path.join(__dirname, "..", "..", "tests", "fixtures", "samples", "kleiber-12mp.jpg");
const input = fs.readFileSync(source);
sharp.concurrency(1);
sharp.cache(false);

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// The median and the minimum CPU time of `runs` runs of `job`, after one warm-up run.
async function timed(job, runs) {
  await job();
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const start = cpuMs();
    await job();
    samples.push(cpuMs() - start);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0] };
}

module.exports = { sharp, input, timed };
