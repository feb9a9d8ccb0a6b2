//! PNG header: IHDR for size and colour type, then the chunks before IDAT for transparency
//! (tRNS), the EXIF orientation (eXIf) and animation (acTL).

use super::{Cursor, Header, HeaderResult};
use crate::pipeline::ImageFormat;

pub fn read(bytes: &[u8]) -> HeaderResult<Header> {
    let mut c = Cursor::new(bytes);
    c.skip(8)?;
    let len = c.be32()?;
    if c.take(4)? != b"IHDR" || len != 13 {
        return Err("missing IHDR".into());
    }
    let width = c.be32()?;
    let height = c.be32()?;
    let _depth = c.u8()?;
    let color_type = c.u8()?;
    c.skip(3 + 4)?;
    let mut header = Header {
        format: ImageFormat::Png,
        width,
        height,
        orientation: 1,
        // Grey+alpha (4) and RGBA (6); palette and others only with tRNS.
        has_alpha: matches!(color_type, 4 | 6),
        frames: 1,
    };
    // Ancillary chunks of interest all precede IDAT; a truncated tail is the decoder's problem.
    while c.remaining() >= 8 {
        let len = c.be32()? as usize;
        let kind = c.take(4)?;
        if kind == b"IDAT" || kind == b"IEND" {
            break;
        }
        let Ok(data) = c.take(len) else { break };
        match kind {
            b"tRNS" => header.has_alpha = true,
            b"eXIf" => header.orientation = crate::pipeline::exif::orientation(data),
            b"acTL" if data.len() >= 4 => {
                header.frames = u32::from_be_bytes([data[0], data[1], data[2], data[3]]).max(1)
            }
            _ => {}
        }
        c.skip(4)?; // CRC
    }
    Ok(header)
}
