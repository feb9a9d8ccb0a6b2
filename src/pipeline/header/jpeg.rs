//! JPEG header: walks the marker segments up to the first scan. Reads the frame header (SOFn)
//! for size and coding, APP1 for the EXIF orientation.

use super::{Cursor, Header, HeaderResult};
use crate::pipeline::ImageFormat;

/// JPEG facts the decoder choice depends on, beyond the common [`Header`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JpegInfo {
    pub components: u8,
    pub precision: u8,
    pub progressive: bool,
    pub arithmetic: bool,
    /// APP14 "Adobe" colour transform, when the segment is present (0 none/CMYK, 1 YCbCr, 2 YCCK).
    pub adobe_transform: Option<u8>,
    /// Whether some components have fewer samples than others (4:2:0, 4:2:2, ...).
    pub subsampled: bool,
    /// The ICC profile from the APP2 `ICC_PROFILE` chunks, reassembled in sequence order.
    pub icc: Option<Vec<u8>>,
}

pub fn read(bytes: &[u8]) -> HeaderResult<Header> {
    read_full(bytes).map(|(h, _)| h)
}

pub fn read_full(bytes: &[u8]) -> HeaderResult<(Header, JpegInfo)> {
    let mut c = Cursor::new(bytes);
    if c.take(2)? != [0xFF, 0xD8] {
        return Err("not a JPEG".into());
    }
    let mut orientation = 1;
    let mut info = JpegInfo::default();
    let mut size = None;
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if c.u8()? != 0xFF {
            return Err("corrupt marker".into());
        }
        let mut marker = c.u8()?;
        while marker == 0xFF {
            marker = c.u8()?;
        }
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue,
            0xD9 => break,
            _ => {}
        }
        let len = c.be16()? as usize;
        if len < 2 {
            return Err("corrupt segment length".into());
        }
        let segment = c.take(len - 2)?;
        match marker {
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let mut s = Cursor::new(segment);
                info.precision = s.u8()?;
                let height = s.be16()?;
                let width = s.be16()?;
                info.components = s.u8()?;
                let mut factors = Vec::new();
                for _ in 0..info.components {
                    let f = s.take(3)?;
                    factors.push(f[1]);
                }
                info.subsampled = factors.windows(2).any(|w| w[0] != w[1]);
                info.progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                info.arithmetic = marker >= 0xC9;
                if matches!(marker, 0xC3 | 0xC7 | 0xCB | 0xCF) {
                    return Err("lossless JPEG is not supported".into());
                }
                if matches!(marker, 0xC5..=0xC7 | 0xCD..=0xCF) {
                    return Err("hierarchical JPEG is not supported".into());
                }
                if height == 0 {
                    return Err("JPEG height defined by DNL is not supported".into());
                }
                size = Some((u32::from(width), u32::from(height)));
            }
            0xE1 if segment.starts_with(b"Exif\0\0") => {
                orientation = crate::pipeline::exif::orientation(&segment[6..]);
            }
            // The chunk number is a byte: more chunks than that are not one profile.
            0xE2 if segment.starts_with(b"ICC_PROFILE\0")
                && segment.len() >= 14
                && icc_chunks.len() < 255 =>
            {
                icc_chunks.push((segment[12], &segment[14..]));
            }
            0xEE if segment.starts_with(b"Adobe") && segment.len() >= 12 => {
                info.adobe_transform = Some(segment[11]);
            }
            0xDA => break,
            _ => {}
        }
    }
    let (width, height) = size.ok_or("no JPEG frame header")?;
    if !icc_chunks.is_empty() {
        icc_chunks.sort_by_key(|&(seq, _)| seq);
        info.icc = Some(
            icc_chunks
                .iter()
                .flat_map(|&(_, d)| d.iter().copied())
                .collect(),
        );
    }
    if !matches!(info.components, 1 | 3 | 4) {
        return Err(format!("{} colour components", info.components));
    }
    let header = Header {
        format: ImageFormat::Jpeg,
        width,
        height,
        orientation,
        has_alpha: false,
        frames: 1,
    };
    Ok((header, info))
}
