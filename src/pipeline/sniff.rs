//! Format detection by magic bytes, and SVG by its XML prolog (`svg/prolog.rs`). The file name
//! and the extension are never consulted: a PNG named `.jpg` is a PNG, an SVG named `.png` is
//! an SVG, and text or HTML named `.svg` is nothing we decode.

use super::ImageFormat;

/// The format of `bytes` by their leading signature, if it is one we decode.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(ImageFormat::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(ImageFormat::Png);
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some(ImageFormat::Gif);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some(ImageFormat::Webp);
    }
    if is_avif(bytes) {
        return Some(ImageFormat::Avif);
    }
    if super::svg::is_svg(bytes) {
        return Some(ImageFormat::Svg);
    }
    None
}

/// An ISOBMFF `ftyp` box whose major or compatible brands include `avif` or `avis`.
fn is_avif(bytes: &[u8]) -> bool {
    if bytes.len() < 16 || &bytes[4..8] != b"ftyp" {
        return false;
    }
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    // Brands: major at 8..12, minor version at 12..16, compatible brands from 16 to the box end.
    let end = size.clamp(16, bytes.len());
    let is_brand = |b: &[u8]| b == b"avif" || b == b"avis";
    is_brand(&bytes[8..12]) || bytes[16..end].chunks_exact(4).any(is_brand)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(ImageFormat::Png)
        );
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Some(ImageFormat::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(ImageFormat::Webp));
        assert_eq!(
            sniff(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
            Some(ImageFormat::Avif)
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmif1\0\0\0\0mif1avif"),
            Some(ImageFormat::Avif)
        );
    }

    #[test]
    fn svg_by_content() {
        let svg = ImageFormat::Svg;
        assert_eq!(
            sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Some(svg)
        );
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<!-- made by hand -->\n<!DOCTYPE svg>\n<svg>"),
            Some(svg)
        );
        assert_eq!(sniff(b"<svgx/>"), None);
    }

    #[test]
    fn not_images() {
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"\xFF\xD8"), None);
        assert_eq!(sniff(b"<!DOCTYPE html><html></html>"), None);
        assert_eq!(
            sniff(b"<html><svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            None
        );
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), None);
        assert_eq!(sniff(b"just some text that is long enough"), None);
    }
}
