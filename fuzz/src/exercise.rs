//! One input through the pipeline's public entry points, as the server would take it: sniff,
//! probe (header and limits), then a small render (decode, trim, crop, rotate and flip, resize,
//! colour, orientation, letterbox, blur, sharpen, padding, alpha flattening, progressive
//! encode), and for an animated GIF or WebP the same render of every frame to GIF and WebP.
//! Refusals are fine; a panic or an `Internal` error
//! (a 500 to the client) is a finding.

use imgserver::pipeline::{
    probe, render, sniff, Crop, Fit, Flip, ImageFormat, Operations, Padding, PipelineError,
    PipelineSettings, RenderSpec, Rotation, Sigma,
};

/// Tighter than the defaults so that one input costs milliseconds, not a 50 MP decode; the
/// parsers' own bounds do not depend on these.
pub fn settings() -> PipelineSettings {
    PipelineSettings {
        max_width: 256,
        max_height: 256,
        max_source_pixels: 1_000_000,
        max_frames: 32,
        max_animation_pixels: 100_000,
        ..PipelineSettings::default()
    }
}

/// Letterboxed (contain) into JPEG with every operation: exercises the letterbox, the
/// operations and the alpha flattening too.
pub fn spec() -> RenderSpec {
    RenderSpec {
        fit: Fit::Contain,
        ops: Operations {
            trim: Some(20),
            crop: Some(Crop::Fractions {
                x: 100_000,
                y: 0,
                width: 900_000,
                height: 900_000,
            }),
            rotation: Rotation::Quarter,
            flip: Flip {
                horizontal: true,
                vertical: false,
            },
            focus: None,
            blur: Some(Sigma(80)),
            sharpen: Some(Sigma(50)),
            pad: Padding {
                top: 1,
                right: 2,
                bottom: 3,
                left: 4,
            },
            interlace: true,
            lossless: false,
        },
        ..RenderSpec::resize(Some(48), Some(32), ImageFormat::Jpeg)
    }
}

/// Runs `bytes` through the pipeline; with `only`, inputs sniffed as another format stop after
/// the sniff (each fuzz target spends its time on one format). Panics on an `Internal` error.
pub fn exercise(bytes: &[u8], only: Option<ImageFormat>) {
    let format = sniff(bytes);
    if only.is_some() && format != only {
        return;
    }
    let settings = settings();
    let probed = probe(bytes, &settings);
    assert_not_internal(&probed);
    if let Ok(info) = probed {
        assert_not_internal(&render(bytes, &spec(), &settings));
        if info.animated {
            for format in [ImageFormat::Gif, ImageFormat::Webp] {
                let animated = RenderSpec {
                    format,
                    animate: true,
                    ..spec()
                };
                assert_not_internal(&render(bytes, &animated, &settings));
            }
        }
    }
}

fn assert_not_internal<T>(result: &Result<T, PipelineError>) {
    if let Err(PipelineError::Internal(e)) = result {
        panic!("input caused an internal error: {e:#}");
    }
}
