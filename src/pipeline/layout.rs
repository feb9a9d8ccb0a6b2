//! Where a render's pixels come from and where they go: the trimmed region (when trim has run),
//! the crop inside it, the request's rotation and flip, and the fit plan on the turned image,
//! all carried back to one rectangle of the source *in its stored orientation*. The render
//! resamples that rectangle straight from the decoded image and turns only the small result
//! once (EXIF orientation, rotation and flip composed), so a crop or a rotation of a 12 MP
//! photo costs no full-size copy and still shrinks on load.

use super::geometry::{self, Rect};
use super::header::Header;
use super::operations::MILLION;
use super::{crop, orient, Fit, Gravity, ImageFormat, PipelineError, PipelineSettings, RenderSpec};

/// One render's geometry, from the stored source to the output canvas.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The fit plan, in the frame of the cropped and turned image.
    pub plan: geometry::Plan,
    /// The part of the stored source that is resampled.
    pub stored: Rect,
    /// Its size once resampled, still in the stored orientation.
    pub scaled: (u32, u32),
    /// The one turn applied to the resampled image: EXIF orientation, then rotation and flip.
    pub orientation: u8,
    /// For `g=smart`: the stored-orientation region the window of `stored`'s size may move in.
    pub smart_region: Option<Rect>,
    /// The output's size, padding included.
    pub canvas: (u32, u32),
}

/// Lays out `spec` on the source `header` describes; `trimmed` is the displayed region trim
/// kept (`None` before trim has run, or without trim).
pub fn layout(
    header: &Header,
    trimmed: Option<Rect>,
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> Result<Layout, PipelineError> {
    let (dw, dh) = header.displayed_size();
    let (dwf, dhf) = (f64::from(dw), f64::from(dh));
    let whole = Rect {
        x: 0.0,
        y: 0.0,
        width: dwf,
        height: dhf,
    };
    let region = crop::region(spec.ops.crop, trimmed.unwrap_or(whole))?;
    let turn = spec.ops.turn();
    let region_size = (region.width, region.height);
    let (tw, th) = orient::turned_size(
        turn,
        (region.width.round() as u32, region.height.round() as u32),
    );
    // The focal point is a fraction of the displayed source; the plan wants it in the turned
    // region's pixels (it may lie outside the region: the window then keeps to that side).
    let focus = spec.ops.focus.map(|f| {
        let point = Rect {
            x: f64::from(f.x) / f64::from(MILLION) * dwf - region.x,
            y: f64::from(f.y) / f64::from(MILLION) * dhf - region.y,
            width: 0.0,
            height: 0.0,
        };
        let p = orient::map_rect(point, turn, region_size);
        (p.x, p.y)
    });
    let plan = geometry::plan(
        tw,
        th,
        &geometry::Request {
            width: spec.width,
            height: spec.height,
            fit: spec.fit,
            gravity: spec.gravity,
            focus,
            // An SVG has no pixels to enlarge: it is drawn at the size asked for.
            enlarge: spec.enlarge || header.format == ImageFormat::Svg,
            max_width: settings.max_width,
            max_height: settings.max_height,
        },
    );

    let canvas = spec.ops.pad.around(plan.canvas);
    if canvas.0 > settings.max_width || canvas.1 > settings.max_height {
        return Err(PipelineError::BadRequest(format!(
            "pad makes the output {}x{}, larger than the {}x{} allowed",
            canvas.0, canvas.1, settings.max_width, settings.max_height
        )));
    }

    let (sw, sh) = (f64::from(header.width), f64::from(header.height));
    let to_stored = |r: Rect| orient::rect_to_stored(r, header.orientation, sw, sh);
    let in_region = orient::map_rect(
        plan.crop,
        orient::inverse(turn),
        (f64::from(tw), f64::from(th)),
    );
    let stored = to_stored(Rect {
        x: in_region.x + region.x,
        y: in_region.y + region.y,
        ..in_region
    });
    let orientation = orient::compose(header.orientation, turn);
    let scaled = orient::turned_size(orientation, plan.scaled);
    let boxed = spec.width.is_some() && spec.height.is_some();
    let smart = spec.gravity == Gravity::Smart && spec.fit == Fit::Cover && boxed;
    Ok(Layout {
        plan,
        stored,
        scaled,
        orientation,
        smart_region: smart.then(|| to_stored(region)),
        canvas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::operations::{Crop, Focus, Operations, Rotation};

    fn header(width: u32, height: u32, orientation: u8) -> Header {
        Header {
            format: ImageFormat::Jpeg,
            width,
            height,
            orientation,
            has_alpha: false,
            frames: 1,
        }
    }

    fn spec(width: Option<u32>, height: Option<u32>, ops: Operations) -> RenderSpec {
        RenderSpec {
            ops,
            ..RenderSpec::resize(width, height, ImageFormat::Jpeg)
        }
    }

    #[test]
    fn a_crop_of_a_rotated_exif_source_maps_to_its_stored_pixels() {
        // Stored 300x200, EXIF 6: displayed 200x300. Crop the displayed top-left 100x50 and
        // turn it a quarter: the output is 50x100.
        let ops = Operations {
            crop: Some(Crop::Pixels {
                x: 0,
                y: 0,
                width: 100,
                height: 50,
            }),
            rotation: Rotation::Quarter,
            ..Operations::default()
        };
        let l = layout(
            &header(300, 200, 6),
            None,
            &spec(None, None, ops),
            &PipelineSettings::default(),
        )
        .unwrap();
        assert_eq!(l.plan.canvas, (50, 100));
        // Displayed (0..100, 0..50) of an EXIF-6 image is stored x 0..50, y 100..200.
        assert_eq!(
            (l.stored.x, l.stored.y, l.stored.width, l.stored.height),
            (0.0, 100.0, 50.0, 100.0)
        );
        // EXIF 6 then a quarter turn: 180 degrees, no axis swap from the stored frame.
        assert_eq!((l.orientation, l.scaled), (3, (50, 100)));
    }

    #[test]
    fn the_focus_moves_the_cover_window_and_padding_grows_the_canvas() {
        let mut ops = Operations {
            focus: Some(Focus {
                x: 900_000,
                y: 500_000,
            }),
            ..Operations::default()
        };
        // A 100x100 cover box on a 400x100 source.
        let square = |ops: Operations| {
            let settings = PipelineSettings::default();
            layout(
                &header(400, 100, 1),
                None,
                &spec(Some(100), Some(100), ops),
                &settings,
            )
        };
        assert_eq!(square(ops).unwrap().stored.x, 300.0);
        ops.pad.left = 7;
        ops.pad.top = 3;
        assert_eq!(square(ops).unwrap().canvas, (107, 103));
        ops.pad.left = 5000;
        assert!(square(ops).is_err());
    }
}
