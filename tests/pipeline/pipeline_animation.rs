//! Animations through the pipeline's entry points: estimated at the cost of all their frames
//! (so a long one is a heavy render), and broken animations (cut short, frames outside the
//! canvas) refused or rendered with what they hold, never a panic or an internal error.

use crate::common::animation::{self, Dispose, Patch};
use crate::common::pipeline::*;
use imgserver::pipeline::{assess, render, ImageFormat, PipelineError, RenderSpec};

fn demo(frames: u16) -> Vec<u8> {
    let patches: Vec<Patch> = (0..frames)
        .map(|i| Patch {
            left: 2 * i,
            top: i,
            width: 20,
            height: 10,
            colour: Some([(i * 40) as u8, 100, 200]),
            ms: 50,
            dispose: Dispose::Keep,
        })
        .collect();
    animation::gif(64, 48, &patches, Some(0))
}

fn animated(format: ImageFormat) -> RenderSpec {
    RenderSpec {
        animate: true,
        ..spec(Some(32), None, format)
    }
}

#[test]
fn an_animation_costs_its_frames() {
    let gif = demo(10);
    let one = assess(&gif, &spec(Some(32), None, ImageFormat::Gif), &settings()).unwrap();
    let all = assess(&gif, &animated(ImageFormat::Gif), &settings()).unwrap();
    assert_eq!(all.output_pixels, one.output_pixels * 10);
    assert_eq!(all.cpu, one.cpu * 10);
    // A still output of the same animation costs one frame.
    let jpeg = assess(&gif, &animated(ImageFormat::Jpeg), &settings()).unwrap();
    assert_eq!(jpeg.output_pixels, one.output_pixels);
}

#[test]
fn broken_animations_are_refused_or_cut_short_never_a_panic() {
    let gif = demo(6);
    let webp = {
        let patch = |left| Patch {
            left,
            top: 0,
            width: 8,
            height: 8,
            colour: Some([200, 10, 10]),
            ms: 40,
            dispose: Dispose::Keep,
        };
        animation::webp(
            16,
            16,
            &[(patch(0), true), (patch(8), true), (patch(4), false)],
            0,
        )
    };
    for (name, source) in [("gif", &gif), ("webp", &webp)] {
        for cut in (20..source.len()).step_by(7) {
            for format in [ImageFormat::Gif, ImageFormat::Webp] {
                match render(&source[..cut], &animated(format), &settings()) {
                    Ok(out) => assert!((out.width, out.height) != (0, 0)),
                    Err(PipelineError::Unsupported(_) | PipelineError::TooLarge(_)) => {}
                    Err(e) => panic!("{name} cut at {cut} to {format}: {e:?}"),
                }
            }
        }
    }
    // A WebP frame that claims to reach past the canvas: 8x8 at x=12 of a 16 px canvas.
    let outside = {
        let patch = Patch {
            left: 12,
            top: 0,
            width: 8,
            height: 8,
            colour: Some([0, 0, 255]),
            ms: 40,
            dispose: Dispose::Keep,
        };
        let first = Patch { left: 0, ..patch };
        animation::webp(16, 16, &[(first, true), (patch, true)], 0)
    };
    match render(&outside, &animated(ImageFormat::Gif), &settings()) {
        Err(PipelineError::Unsupported(_)) => {}
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
