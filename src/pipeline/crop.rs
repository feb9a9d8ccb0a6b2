//! Step 4 of the order, `crop`: the region of the (trimmed) displayed source a request keeps,
//! in whole pixels, clipped to the image. A region that leaves nothing is the request's fault.

use super::geometry::Rect;
use super::operations::{Crop, MILLION};
use super::PipelineError;

/// The region of `within` (a rectangle of the displayed source: the whole image, or what trim
/// left) that `crop` keeps, in displayed-source pixels.
pub fn region(crop: Option<Crop>, within: Rect) -> Result<Rect, PipelineError> {
    let Some(crop) = crop else {
        return Ok(within);
    };
    let (w, h) = (within.width.round() as u64, within.height.round() as u64);
    // Fractions are of the image's size and round to the nearest pixel edge.
    let edge = |fraction: u32, len: u64| {
        (u64::from(fraction) * len + u64::from(MILLION) / 2) / u64::from(MILLION)
    };
    let (x0, y0, x1, y1) = match crop {
        Crop::Pixels {
            x,
            y,
            width,
            height,
        } => {
            let (x, y) = (u64::from(x), u64::from(y));
            (x, y, x + u64::from(width), y + u64::from(height))
        }
        Crop::Fractions {
            x,
            y,
            width,
            height,
        } => (
            edge(x, w),
            edge(y, h),
            edge(x.saturating_add(width), w),
            edge(y.saturating_add(height), h),
        ),
    };
    let (x0, y0, x1, y1) = (x0.min(w), y0.min(h), x1.min(w), y1.min(h));
    if x1 <= x0 || y1 <= y0 {
        return Err(PipelineError::BadRequest(format!(
            "crop leaves nothing of the {w}x{h} image"
        )));
    }
    Ok(Rect {
        x: within.x + x0 as f64,
        y: within.y + y0 as f64,
        width: (x1 - x0) as f64,
        height: (y1 - y0) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x: f64, y: f64, width: f64, height: f64) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn pixels_are_clipped_and_fractions_scale() {
        let whole = rect(0.0, 0.0, 200.0, 100.0);
        let px = |x, y, width, height| Crop::Pixels {
            x,
            y,
            width,
            height,
        };
        assert_eq!(region(None, whole).unwrap(), whole);
        assert_eq!(
            region(Some(px(10, 20, 30, 40)), whole).unwrap(),
            rect(10.0, 20.0, 30.0, 40.0)
        );
        assert_eq!(
            region(Some(px(150, 50, 100, 100)), whole).unwrap(),
            rect(150.0, 50.0, 50.0, 50.0)
        );
        assert!(region(Some(px(200, 0, 10, 10)), whole).is_err());
        assert!(region(Some(px(u32::MAX, u32::MAX, u32::MAX, u32::MAX)), whole).is_err());
        let fr = Crop::Fractions {
            x: 100_000,
            y: 500_000,
            width: 500_000,
            height: 900_000,
        };
        assert_eq!(
            region(Some(fr), whole).unwrap(),
            rect(20.0, 50.0, 100.0, 50.0)
        );
        // Within a trimmed region, coordinates are the region's.
        let trimmed = rect(5.0, 6.0, 100.0, 50.0);
        assert_eq!(
            region(Some(px(1, 2, 3, 4)), trimmed).unwrap(),
            rect(6.0, 8.0, 3.0, 4.0)
        );
    }
}
