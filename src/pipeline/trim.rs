//! Step 3 of the order, `trim`: the border of one colour around the picture (scans, product
//! shots on white), found from the pixels. Runs on the full-size decoded image in its stored
//! orientation, with the colour of the pixel that *displays* top-left, so the border found is
//! the same whatever the EXIF orientation.

use super::bitmap::Bitmap;
use super::geometry::Rect;
use super::orient;

/// The part of the displayed image left once the border of the top-left pixel's colour (each
/// channel within `tolerance`) is cut away, in displayed pixels. A uniform image keeps all of
/// itself: there is no picture to trim to.
pub fn trimmed(bitmap: &Bitmap, orientation: u8, tolerance: u8) -> Rect {
    let (w, h) = (bitmap.width as usize, bitmap.height as usize);
    let size = (f64::from(bitmap.width), f64::from(bitmap.height));
    let whole = Rect {
        x: 0.0,
        y: 0.0,
        width: size.0,
        height: size.1,
    };
    let displayed = orient::map_rect(whole, orientation, size);
    let corner = Rect {
        x: 0.0,
        y: 0.0,
        width: 1.0,
        height: 1.0,
    };
    let at = orient::rect_to_stored(corner, orientation, size.0, size.1);
    let n = bitmap.channels as usize;
    let start = (at.y as usize * w + at.x as usize) * n;
    let reference = bitmap.data[start..start + n].to_vec();
    let differs = |p: &[u8]| {
        p.iter()
            .zip(&reference)
            .any(|(&a, &b)| a.abs_diff(b) > tolerance)
    };

    let (mut left, mut right, mut top, mut bottom) = (w, 0, h, 0);
    for (y, row) in bitmap.data.chunks_exact(w * n).enumerate() {
        let Some(first) = row.chunks_exact(n).position(differs) else {
            continue;
        };
        let last = w - 1 - row.chunks_exact(n).rev().position(differs).unwrap_or(0);
        left = left.min(first);
        right = right.max(last + 1);
        top = top.min(y);
        bottom = y + 1;
    }
    if left >= right {
        return displayed;
    }
    let stored = Rect {
        x: left as f64,
        y: top as f64,
        width: (right - left) as f64,
        height: (bottom - top) as f64,
    };
    orient::map_rect(stored, orientation, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 6x4 white image with a 2x1 dark block at (3,1).
    fn framed() -> Bitmap {
        let mut b = Bitmap::filled(6, 4, &[255, 255, 255]);
        for x in 3..5 {
            let i = (6 + x) * 3;
            b.data[i..i + 3].copy_from_slice(&[10, 10, 10]);
        }
        b
    }

    #[test]
    fn finds_the_picture_inside_the_border() {
        let r = trimmed(&framed(), 1, 10);
        assert_eq!((r.x, r.y, r.width, r.height), (3.0, 1.0, 2.0, 1.0));
        // Oriented 6 (displayed turned a quarter clockwise: 4x6), the block is at x=2, y=3.
        let r = trimmed(&framed(), 6, 10);
        assert_eq!((r.x, r.y, r.width, r.height), (2.0, 3.0, 1.0, 2.0));
        // Within tolerance everything is border: nothing to trim to.
        let r = trimmed(&framed(), 1, 250);
        assert_eq!((r.width, r.height), (6.0, 4.0));
    }
}
