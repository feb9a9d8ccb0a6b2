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
        Ok(()) => Bitmap {
            width: w,
            height: h,
            channels: dst_channels as u8,
            data: out,
        },
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

/// CMYK ink amounts (0 = no ink; the JPEG decoder has already undone the Adobe inversion and
/// the YCCK coding) to RGB: through the embedded CMYK ICC profile when there is one,
/// otherwise through the naive ink model, as browsers do without a profile.
pub fn cmyk_to_rgb(cmyk: Bitmap, icc: Option<&[u8]>) -> Result<Bitmap> {
    if let Some(rgb) = icc.and_then(|icc| cmyk_via_profile(&cmyk, icc)) {
        return Ok(rgb);
    }
    let data = cmyk
        .data
        .chunks_exact(4)
        .flat_map(|p| {
            let k = 255 - u32::from(p[3]);
            let mul = |ink: u8| (((255 - u32::from(ink)) * k + 127) / 255) as u8;
            [mul(p[0]), mul(p[1]), mul(p[2])]
        })
        .collect();
    Bitmap::new(cmyk.width, cmyk.height, 3, data)
}

fn cmyk_via_profile(cmyk: &Bitmap, icc: &[u8]) -> Option<Bitmap> {
    let profile = ColorProfile::new_from_slice(icc).ok()?;
    if profile.color_space != DataColorSpace::Cmyk {
        return None;
    }
    let srgb = ColorProfile::new_srgb();
    let transform = profile
        .create_transform_8bit(
            Layout::Rgba,
            &srgb,
            Layout::Rgb,
            TransformOptions::default(),
        )
        .ok()?;
    let mut out = vec![0u8; cmyk.width as usize * cmyk.height as usize * 3];
    transform.transform(&cmyk.data, &mut out).ok()?;
    Bitmap::new(cmyk.width, cmyk.height, 3, out).ok()
}
