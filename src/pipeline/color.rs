//! Colour: embedded ICC profiles converted to sRGB (with `moxcms`, pure Rust), and CMYK/YCCK
//! JPEG data turned into RGB. Outputs carry no profile, so their pixels must already be sRGB:
//! ignoring a wide-gamut profile makes a Display-P3 or Adobe RGB photo look dull.

use anyhow::Result;
use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

use super::bitmap::Bitmap;

/// Converts `bitmap` from the colour space of `icc` to sRGB. A profile that cannot be parsed,
/// does not match the pixel layout, or is sRGB already leaves the pixels as they are: a broken
/// profile is no reason to fail a render.
pub fn to_srgb(bitmap: Bitmap, icc: &[u8]) -> Bitmap {
    let Ok(profile) = ColorProfile::new_from_slice(icc) else {
        return bitmap;
    };
    let srgb = ColorProfile::new_srgb();
    let (src_layout, dst_layout, dst_channels) = match (profile.color_space, bitmap.channels) {
        (DataColorSpace::Rgb, 3) => (Layout::Rgb, Layout::Rgb, 3),
        (DataColorSpace::Rgb, 4) => (Layout::Rgba, Layout::Rgba, 4),
        (DataColorSpace::Gray, 1) => (Layout::Gray, Layout::Rgb, 3),
        (DataColorSpace::Gray, 2) => (Layout::GrayAlpha, Layout::Rgba, 4),
        _ => return bitmap,
    };
    if profile.color_space == DataColorSpace::Rgb && is_srgb(&profile, &srgb) {
        return bitmap;
    }
    let Ok(transform) =
        profile.create_transform_8bit(src_layout, &srgb, dst_layout, TransformOptions::default())
    else {
        return bitmap;
    };
    let (w, h) = (bitmap.width, bitmap.height);
    let mut out = vec![0u8; w as usize * h as usize * dst_channels];
    match transform.transform(&bitmap.data, &mut out) {
        Ok(()) => Bitmap { width: w, height: h, channels: dst_channels as u8, data: out },
        Err(_) => bitmap,
    }
}

/// Same primaries and white point as sRGB (to 3 decimals): converting would change nothing
/// visible, so the transform is skipped. The tone curve is assumed to be sRGB's too.
fn is_srgb(profile: &ColorProfile, srgb: &ColorProfile) -> bool {
    let close = |a: moxcms::Xyzd, b: moxcms::Xyzd| {
        (a.x - b.x).abs() < 1e-3 && (a.y - b.y).abs() < 1e-3 && (a.z - b.z).abs() < 1e-3
    };
    close(profile.red_colorant, srgb.red_colorant)
        && close(profile.green_colorant, srgb.green_colorant)
        && close(profile.blue_colorant, srgb.blue_colorant)
        && profile.red_trc.is_some()
}

/// CMYK (4 channels as stored in the JPEG) to RGB. `adobe_transform` is the APP14 transform
/// flag when that segment is present: Adobe writers store inverted values (0 = full ink) and
/// flag 2 means the first three channels are YCC-coded. With a CMYK ICC profile the
/// conversion goes through it; otherwise through the naive ink model, as browsers do.
pub fn cmyk_to_rgb(mut cmyk: Bitmap, adobe_transform: Option<u8>, icc: Option<&[u8]>) -> Result<Bitmap> {
    if adobe_transform == Some(2) {
        for p in cmyk.data.chunks_exact_mut(4) {
            let (r, g, b) = ycc_to_rgb(p[0], p[1], p[2]);
            p[0] = r;
            p[1] = g;
            p[2] = b;
        }
    }
    // From here on: "inverted" means 255 = no ink.
    let inverted = adobe_transform.is_some();
    if let Some(rgb) = icc.and_then(|icc| cmyk_via_profile(&cmyk, icc, inverted)) {
        return Ok(rgb);
    }
    let data = cmyk
        .data
        .chunks_exact(4)
        .flat_map(|p| {
            let [c, m, y, k] = if inverted {
                [p[0], p[1], p[2], p[3]]
            } else {
                [255 - p[0], 255 - p[1], 255 - p[2], 255 - p[3]]
            };
            let mul = |a: u8| ((u32::from(a) * u32::from(k) + 127) / 255) as u8;
            [mul(c), mul(m), mul(y)]
        })
        .collect();
    Bitmap::new(cmyk.width, cmyk.height, 3, data)
}

fn cmyk_via_profile(cmyk: &Bitmap, icc: &[u8], inverted: bool) -> Option<Bitmap> {
    let profile = ColorProfile::new_from_slice(icc).ok()?;
    if profile.color_space != DataColorSpace::Cmyk {
        return None;
    }
    let srgb = ColorProfile::new_srgb();
    let transform = profile
        .create_transform_8bit(Layout::Rgba, &srgb, Layout::Rgb, TransformOptions::default())
        .ok()?;
    // ICC CMYK is 0 = no ink.
    let src: std::borrow::Cow<[u8]> = if inverted {
        cmyk.data.iter().map(|v| 255 - v).collect::<Vec<_>>().into()
    } else {
        cmyk.data.as_slice().into()
    };
    let mut out = vec![0u8; cmyk.width as usize * cmyk.height as usize * 3];
    transform.transform(&src, &mut out).ok()?;
    Bitmap::new(cmyk.width, cmyk.height, 3, out).ok()
}

/// JFIF YCbCr to RGB, full range.
fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> (u8, u8, u8) {
    let (y, cb, cr) = (f32::from(y), f32::from(cb) - 128.0, f32::from(cr) - 128.0);
    let c = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    (c(y + 1.402 * cr), c(y - 0.344_136 * cb - 0.714_136 * cr), c(y + 1.772 * cb))
}
