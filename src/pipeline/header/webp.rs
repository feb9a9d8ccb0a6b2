//! WebP header: the RIFF chunk list. VP8X gives the canvas and flags; a simple file has one
//! VP8 or VP8L chunk with the size in its bitstream header. ANMF chunks are counted as frames.

use super::{Cursor, Header, HeaderResult};
use crate::pipeline::ImageFormat;

pub fn read(bytes: &[u8]) -> HeaderResult<Header> {
    let mut c = Cursor::new(bytes);
    c.skip(12)?;
    let mut header = Header {
        format: ImageFormat::Webp,
        width: 0,
        height: 0,
        orientation: 1,
        has_alpha: false,
        frames: 0,
    };
    let mut extended = false;
    while c.remaining() >= 8 {
        let kind = c.take(4)?;
        let len = c.le32()? as usize;
        // A truncated last chunk still lets the header be known; the decoder will complain.
        // Its declared length is never believed past the end of the file.
        let data = match c.take(len) {
            Ok(data) => data,
            Err(_) => {
                let rest = &c.bytes[c.pos..];
                c.pos = c.bytes.len();
                rest
            }
        };
        c.pos = c.pos.saturating_add(len & 1).min(c.bytes.len());
        match kind {
            b"VP8X" => {
                let mut d = Cursor::new(data);
                let flags = d.u8()?;
                d.skip(3)?;
                header.width = d.le24()? + 1;
                header.height = d.le24()? + 1;
                header.has_alpha = flags & 0x10 != 0;
                extended = true;
            }
            b"VP8 " if !extended => {
                let mut d = Cursor::new(data);
                d.skip(3)?;
                if d.take(3)? != [0x9D, 0x01, 0x2A] {
                    return Err("bad VP8 start code".into());
                }
                header.width = u32::from(d.le16()? & 0x3FFF);
                header.height = u32::from(d.le16()? & 0x3FFF);
                header.frames = 1;
            }
            b"VP8L" if !extended => {
                let mut d = Cursor::new(data);
                if d.u8()? != 0x2F {
                    return Err("bad VP8L signature".into());
                }
                let bits = d.le32()?;
                header.width = (bits & 0x3FFF) + 1;
                header.height = ((bits >> 14) & 0x3FFF) + 1;
                header.has_alpha = (bits >> 28) & 1 == 1;
                header.frames = 1;
            }
            b"VP8 " | b"VP8L" => header.frames = header.frames.max(1),
            b"ANMF" => header.frames += 1,
            b"EXIF" => header.orientation = crate::pipeline::exif::orientation(data),
            _ => {}
        }
    }
    if header.frames == 0 {
        return Err("no image data in WebP".into());
    }
    Ok(header)
}
