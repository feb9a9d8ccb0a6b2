//! `g=smart`: where `fit=cover` puts its window when the request leaves it to the content. The
//! idea of libvips' attention strategy: a small copy of the region is scored pixel by pixel for
//! detail (edges of the luma), saturated colour and skin tones, and the window with the highest
//! score wins, the one nearest the centre among equals. Integer scores and a fixed analysis
//! size make it deterministic: one URL, one crop.

use anyhow::Result;

use super::bitmap::Bitmap;
use super::geometry::Rect;
use super::resize;

/// The long side of the copy that is scored: enough to find a subject, cheap next to a decode.
const ANALYSIS: f64 = 128.0;

/// The best `size` window inside `region` of `bitmap` (both in `bitmap`'s pixels).
pub fn window(bitmap: &Bitmap, region: Rect, size: (f64, f64)) -> Result<Rect> {
    let (ww, wh) = (size.0.min(region.width), size.1.min(region.height));
    let scale = (ANALYSIS / region.width.max(region.height)).min(1.0);
    let cols = ((region.width * scale).round() as u32).max(1);
    let rows = ((region.height * scale).round() as u32).max(1);
    let small = resize::thumbnail(bitmap, region, cols, rows)?.into_rgb_family();
    let scores = score(&small);
    let (cols, rows) = (cols as usize, rows as usize);

    // Summed-area table, one row and column of zeros in front.
    let mut table = vec![0u64; (cols + 1) * (rows + 1)];
    for y in 0..rows {
        let mut row = 0u64;
        for x in 0..cols {
            row += u64::from(scores[y * cols + x]);
            table[(y + 1) * (cols + 1) + x + 1] = table[y * (cols + 1) + x + 1] + row;
        }
    }
    let sum = |x: usize, y: usize, w: usize, h: usize| {
        let at = |x: usize, y: usize| table[y * (cols + 1) + x];
        at(x + w, y + h) + at(x, y) - at(x + w, y) - at(x, y + h)
    };

    let span = |window: f64, len: usize| ((window * scale).round() as usize).clamp(1, len);
    let (sw, sh) = (span(ww, cols), span(wh, rows));
    let (free_x, free_y) = (cols - sw, rows - sh);
    let mut best = (0u64, u64::MAX, free_x / 2, free_y / 2);
    for y in 0..=free_y {
        for x in 0..=free_x {
            let total = sum(x, y, sw, sh);
            // Twice the distance to the centre, in whole steps, so the comparison is exact.
            let off = (2 * x).abs_diff(free_x).pow(2) + (2 * y).abs_diff(free_y).pow(2);
            let off = off as u64;
            if total > best.0 || (total == best.0 && off < best.1) {
                best = (total, off, x, y);
            }
        }
    }
    // The extremes of the small grid are the extremes of the region.
    let place = |at: usize, free: usize, room: f64| {
        if free == 0 {
            room / 2.0
        } else {
            room * at as f64 / free as f64
        }
    };
    Ok(Rect {
        x: region.x + place(best.2, free_x, region.width - ww),
        y: region.y + place(best.3, free_y, region.height - wh),
        width: ww,
        height: wh,
    })
}

/// Each pixel's interest: luma edges, saturation, skin.
fn score(rgb: &Bitmap) -> Vec<u32> {
    let (w, h, n) = (
        rgb.width as usize,
        rgb.height as usize,
        rgb.channels as usize,
    );
    let luma: Vec<i32> = rgb
        .data
        .chunks_exact(n)
        .map(|p| (77 * i32::from(p[0]) + 150 * i32::from(p[1]) + 29 * i32::from(p[2])) >> 8)
        .collect();
    let at = |x: usize, y: usize| luma[y * w + x];
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let p = &rgb.data[(y * w + x) * n..][..n];
            let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
            let c = at(x, y);
            let edge = (4 * c
                - at(x.saturating_sub(1), y)
                - at((x + 1).min(w - 1), y)
                - at(x, y.saturating_sub(1))
                - at(x, (y + 1).min(h - 1)))
            .unsigned_abs();
            let (max, min) = (r.max(g).max(b), r.min(g).min(b));
            let saturation = (max - min) as u32;
            let skin = r > 95 && g > 40 && b > 20 && max - min > 15 && r - g > 15 && r > b;
            let alpha = if n == 4 { u32::from(p[3]) } else { 255 };
            let interest = 4 * edge + saturation / 2 + if skin { 96 } else { 0 };
            out.push(interest * alpha / 255);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_detail_on_a_flat_background() {
        // 400x100 grey with a 40x40 checkerboard at x=300..340.
        let mut b = Bitmap::filled(400, 100, &[128, 128, 128]);
        for y in 30..70 {
            for x in 300..340 {
                let v = if (x / 4 + y / 4) % 2 == 0 { 0 } else { 255 };
                let i = (y * 400 + x) * 3;
                b.data[i..i + 3].copy_from_slice(&[v, v, v]);
            }
        }
        let region = Rect {
            x: 0.0,
            y: 0.0,
            width: 400.0,
            height: 100.0,
        };
        let w = window(&b, region, (100.0, 100.0)).unwrap();
        assert!(w.x <= 300.0 && w.x + w.width >= 340.0, "{w:?}");
        assert_eq!((w.width, w.height, w.y), (100.0, 100.0, 0.0));
        // Flat: the centre.
        let flat = Bitmap::filled(400, 100, &[128, 128, 128]);
        let w = window(&flat, region, (100.0, 100.0)).unwrap();
        assert!((w.x - 150.0).abs() < 4.0, "{w:?}");
    }
}
