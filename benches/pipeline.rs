//! Criterion benchmarks of the render pipeline: each step (decode full and shrunk on load,
//! resize, each encoder), whole renders of the samples to 400 px JPEG/WebP/AVIF, and the 12 MP
//! JPEG to 400-1280 px JPEG in both shrink-on-load modes (libvips in-process does the
//! same renders in `benches/libvips/render.js`).
//! Run with `cargo bench --bench pipeline`; results and the libvips comparison are in
//! `benches/README.md`. Everything here runs on one core, as the server does per render.
//!
//! Time is *CPU time of the process* (user + system, all threads), not wall time: the
//! development machines are shared, and CPU time is what a render costs the server whatever
//! the load. (Helper threads of an encoder, if any, are counted too.)

use std::path::PathBuf;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use imgserver::pipeline::steps;
use imgserver::pipeline::{
    render, Crop, Flip, Focus, Gravity, ImageFormat, Operations, Padding, PipelineSettings,
    RenderSpec, Rotation, ShrinkOnLoad, Sigma,
};

/// Process CPU time (`CLOCK_PROCESS_CPUTIME_ID`), in nanoseconds.
struct CpuTime;

fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        process_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        process_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Formats nanoseconds of CPU time as milliseconds.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v /= 1e6);
        "ms cpu"
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        _t: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        values.iter_mut().for_each(|v| *v /= 1e6);
        "ms cpu"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns cpu"
    }
}

type C = Criterion<CpuTime>;

/// A benchmark group of `samples` samples over `seconds` each, after a second of warm-up.
fn bench_group<'a>(
    c: &'a mut C,
    name: &str,
    samples: usize,
    seconds: u64,
) -> BenchmarkGroup<'a, CpuTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(samples)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(seconds));
    group
}

/// The samples in the repository (`tests/fixtures/samples/`), or `$IMGSERVER_SAMPLES`.
fn samples() -> PathBuf {
    match std::env::var_os("IMGSERVER_SAMPLES") {
        Some(dir) => dir.into(),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/samples"
        )),
    }
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(samples().join(name)).expect("sample")
}

fn spec(format: ImageFormat) -> RenderSpec {
    RenderSpec::resize(Some(400), None, format)
}

/// Settings as the service runs them: libwebp method 4 and ravif speed from the defaults.
fn settings() -> PipelineSettings {
    PipelineSettings::default()
}

fn whole_renders(c: &mut C) {
    let mut group = bench_group(c, "render", 20, 4);
    let sources = [
        "kleiber-12mp.jpg",
        "elephants-12mp-progressive.jpg",
        "storm.jpg",
        "focal.png",
    ];
    let mut inputs: Vec<(String, Vec<u8>)> = sources
        .iter()
        .map(|name| (name.to_string(), sample(name)))
        .collect();
    // The 12 MP PNG of the speed goal: kleiber re-encoded as RGB PNG (no such sample exists).
    let kleiber = image::load_from_memory(&sample("kleiber-12mp.jpg"))
        .expect("decode")
        .to_rgb8();
    let mut png = Vec::new();
    kleiber
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    inputs.push(("kleiber-12mp.png (generated)".into(), png));
    for (name, bytes) in &inputs {
        let only_jpeg = name.contains("generated");
        for format in [ImageFormat::Jpeg, ImageFormat::Webp, ImageFormat::Avif] {
            if only_jpeg && format != ImageFormat::Jpeg {
                continue;
            }
            let spec = spec(format);
            group.bench_with_input(BenchmarkId::new(format.name(), name), bytes, |b, bytes| {
                b.iter(|| render(bytes, &spec, &settings()).expect("render"))
            });
        }
    }
    group.finish();
}

/// The widths pages ask most, in both shrink-on-load modes: `quality` (the default) against
/// libvips' thumbnail rule, `fast` against sharp's default (`benches/libvips/render.js`).
fn jpeg_widths(c: &mut C) {
    let mut group = bench_group(c, "kleiber-12mp.jpg to jpeg", 20, 4);
    let bytes = sample("kleiber-12mp.jpg");
    for mode in [ShrinkOnLoad::Quality, ShrinkOnLoad::Fast] {
        let settings = PipelineSettings {
            shrink_on_load: mode,
            ..settings()
        };
        for width in [400, 600, 800, 1100, 1280] {
            let spec = RenderSpec {
                width: Some(width),
                ..spec(ImageFormat::Jpeg)
            };
            group.bench_function(format!("{width} px, {mode:?}"), |b| {
                b.iter(|| render(&bytes, &spec, &settings).expect("render"))
            });
        }
    }
    group.finish();
}

fn decode_steps(c: &mut C) {
    let mut group = bench_group(c, "decode", 10, 3);
    for name in [
        "kleiber-12mp.jpg",
        "elephants-12mp-progressive.jpg",
        "storm.jpg",
    ] {
        let bytes = sample(name);
        for eighths in (1..=8).rev() {
            let id = BenchmarkId::new(format!("{eighths}/8"), name);
            group.bench_with_input(id, &bytes, |b, bytes| {
                b.iter(|| steps::decode(bytes, eighths).expect("decode"))
            });
        }
    }
    let png = sample("focal.png");
    group.bench_function("full/focal.png", |b| {
        b.iter(|| steps::decode(&png, 1).expect("decode"))
    });
    group.finish();
}

fn resize_steps(c: &mut C) {
    let mut group = bench_group(c, "resize", 20, 3);
    let full = steps::decode(&sample("kleiber-12mp.jpg"), 1).expect("decode");
    let quarter = steps::decode(&sample("kleiber-12mp.jpg"), 4).expect("decode");
    let rgba = steps::decode(&sample("focal.png"), 1).expect("decode");
    for (name, bitmap) in [
        ("4000x3000 rgb", &full),
        ("1000x750 rgb", &quarter),
        ("3840x2400 focal.png (opaque RGBA, decoded as RGB)", &rgba),
    ] {
        let (w, h) = (400, (400 * bitmap.height + bitmap.width / 2) / bitmap.width);
        group.bench_function(format!("{name} to {w}x{h}"), |b| {
            b.iter_batched(
                || bitmap.clone(),
                |bm| steps::resize(bm, w, h),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn encode_steps(c: &mut C) {
    let mut group = bench_group(c, "encode 400x300", 20, 3);
    let small = steps::resize(
        steps::decode(&sample("kleiber-12mp.jpg"), 4).expect("decode"),
        400,
        300,
    );
    for format in ImageFormat::ALL {
        group.bench_function(format.name(), |b| {
            b.iter(|| steps::encode(&small, format, &settings()))
        });
    }
    for method in [0, 2, 4, 6] {
        let settings = PipelineSettings {
            webp_method: method,
            ..settings()
        };
        group.bench_function(format!("webp method {method}"), |b| {
            b.iter(|| steps::encode(&small, ImageFormat::Webp, &settings))
        });
    }
    for speed in [6, 8, 10] {
        let settings = PipelineSettings {
            avif_speed: speed,
            ..settings()
        };
        group.bench_function(format!("avif speed {speed}"), |b| {
            b.iter(|| steps::encode(&small, ImageFormat::Avif, &settings))
        });
    }
    group.finish();
}

/// Issue 15's operations: whole renders of the 12 MP JPEG to 400x400 with each placement, and
/// with crop, rotation, flip and padding; blur and sharpen alone on a 400 px image.
fn operations(c: &mut C) {
    let mut group = bench_group(c, "kleiber-12mp.jpg to 400x400 jpeg", 20, 4);
    let bytes = sample("kleiber-12mp.jpg");
    let square = RenderSpec {
        width: Some(400),
        height: Some(400),
        ..spec(ImageFormat::Jpeg)
    };
    let with = |ops: Operations| RenderSpec {
        ops,
        ..square.clone()
    };
    let cases = [
        ("g=center", square.clone()),
        (
            "g=smart",
            RenderSpec {
                gravity: Gravity::Smart,
                ..square.clone()
            },
        ),
        (
            "fp=0.8,0.3",
            with(Operations {
                focus: Some(Focus {
                    x: 800_000,
                    y: 300_000,
                }),
                ..Operations::default()
            }),
        ),
        (
            "crop=0.25,0.25,0.5,0.5",
            with(Operations {
                crop: Some(Crop::Fractions {
                    x: 250_000,
                    y: 250_000,
                    width: 500_000,
                    height: 500_000,
                }),
                ..Operations::default()
            }),
        ),
        (
            "rot=90&flip=h",
            with(Operations {
                rotation: Rotation::Quarter,
                flip: Flip {
                    horizontal: true,
                    vertical: false,
                },
                ..Operations::default()
            }),
        ),
        (
            "pad=20",
            with(Operations {
                pad: Padding::uniform(20),
                ..Operations::default()
            }),
        ),
        (
            "blur=2",
            with(Operations {
                blur: Some(Sigma(200)),
                ..Operations::default()
            }),
        ),
        (
            "sharpen=1",
            with(Operations {
                sharpen: Some(Sigma(100)),
                ..Operations::default()
            }),
        ),
        (
            "trim=10",
            with(Operations {
                trim: Some(10),
                ..Operations::default()
            }),
        ),
    ];
    for (name, spec) in cases {
        group.bench_function(name, |b| {
            b.iter(|| render(&bytes, &spec, &settings()).expect("render"))
        });
    }
    group.finish();

    let mut group = bench_group(c, "effects on 400x300 rgb", 30, 3);
    let small = steps::resize(steps::decode(&bytes, 4).expect("decode"), 400, 300);
    for sigma in [0.5, 2.0, 8.0, 20.0, 100.0] {
        group.bench_function(format!("blur {sigma}"), |b| {
            b.iter_batched(
                || small.clone(),
                |bm| steps::blur(bm, sigma),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    for sigma in [0.5, 1.0, 3.0, 10.0] {
        group.bench_function(format!("sharpen {sigma}"), |b| {
            b.iter_batched(
                || small.clone(),
                |bm| steps::sharpen(bm, sigma),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    // Crop, turn and pad at the same decode scale as the plain render (2/8: a 2000 px region to
    // 200 px is the factor of ten of 4000 px to 400), so only their own pixels differ.
    let mut group = bench_group(c, "kleiber-12mp.jpg at the 2/8 decode scale", 20, 4);
    let wide = RenderSpec {
        width: Some(400),
        ..spec(ImageFormat::Jpeg)
    };
    let with = |width: Option<u32>, height: Option<u32>, ops: Operations| RenderSpec {
        width,
        height,
        ops,
        ..wide.clone()
    };
    let cases = [
        ("w=400", wide.clone()),
        (
            "crop=0.25,0.25,0.5,0.5&w=200",
            with(
                Some(200),
                None,
                Operations {
                    crop: Some(Crop::Fractions {
                        x: 250_000,
                        y: 250_000,
                        width: 500_000,
                        height: 500_000,
                    }),
                    ..Operations::default()
                },
            ),
        ),
        (
            "h=400&rot=90",
            with(
                None,
                Some(400),
                Operations {
                    rotation: Rotation::Quarter,
                    ..Operations::default()
                },
            ),
        ),
        (
            "w=400&flip=hv",
            with(
                Some(400),
                None,
                Operations {
                    flip: Flip {
                        horizontal: true,
                        vertical: true,
                    },
                    ..Operations::default()
                },
            ),
        ),
        (
            "w=400&pad=20",
            with(
                Some(400),
                None,
                Operations {
                    pad: Padding::uniform(20),
                    ..Operations::default()
                },
            ),
        ),
    ];
    for (name, spec) in cases {
        group.bench_function(name, |b| {
            b.iter(|| render(&bytes, &spec, &settings()).expect("render"))
        });
    }
    group.finish();
}

/// `/info?placeholder=1`'s work: the 100 px render, both hashes, the colour and the LQIP.
fn placeholders(c: &mut C) {
    let mut group = bench_group(c, "placeholders", 20, 3);
    for name in ["kleiber-12mp.jpg", "storm.jpg", "focal.png"] {
        let bytes = sample(name);
        group.bench_function(name, |b| {
            b.iter(|| imgserver::pipeline::placeholder(&bytes, &settings()).expect("placeholder"))
        });
    }
    group.finish();
}

/// A GIF demo as docs repositories have them: 100 frames of 480x270 panning across a photo
/// (10 ms each), each frame with its own 256-colour palette.
fn gif_demo() -> Vec<u8> {
    let photo = imgserver::pipeline::steps::decode(&sample("storm.jpg"), 8).expect("decode");
    let photo = imgserver::pipeline::steps::resize(photo, 720, 480);
    let (w, h) = (480usize, 270usize);
    let mut out = Vec::new();
    let mut encoder = gif::Encoder::new(&mut out, w as u16, h as u16, &[]).expect("gif");
    encoder.set_repeat(gif::Repeat::Infinite).expect("loop");
    let channels = usize::from(photo.channels);
    for i in 0..100 {
        let (left, top) = (i * 2, i);
        let mut rgba = Vec::with_capacity(w * h * 4);
        for y in top..top + h {
            let row = &photo.data[(y * photo.width as usize + left) * channels..];
            for px in row.chunks_exact(channels).take(w) {
                rgba.extend_from_slice(&[px[0], px[1], px[2], 255]);
            }
        }
        let mut frame = gif::Frame::from_rgba_speed(w as u16, h as u16, &mut rgba, 10);
        frame.delay = 1;
        encoder.write_frame(&frame).expect("frame");
    }
    drop(encoder);
    out
}

/// The animation goal of issue 16: the 100-frame demo to 240 px wide, every frame kept.
fn animations(c: &mut C) {
    let bytes = gif_demo();
    let mut group = bench_group(c, "animation 100x480x270 gif", 10, 20);
    for format in [ImageFormat::Webp, ImageFormat::Gif] {
        let spec = RenderSpec {
            animate: true,
            ..RenderSpec::resize(Some(240), None, format)
        };
        group.bench_function(format!("to 240 px {format}"), |b| {
            b.iter(|| render(&bytes, &spec, &settings()).expect("render"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = whole_renders, jpeg_widths, decode_steps, resize_steps, encode_steps, operations,
        placeholders, animations
}
criterion_main!(benches);
