//! The one EXIF field the pipeline honours: Orientation (1..=8). Everything else in EXIF is
//! dropped with the rest of the metadata, so only the first IFD is read, in place: nothing is
//! allocated, and every offset and count in the block is checked against its length.

use crate::pipeline::header::Cursor;

/// The Orientation tag of the first IFD (TIFF tag 274).
const ORIENTATION: u16 = 0x0112;

/// The orientation stored in a raw EXIF block (TIFF header first; an `Exif\0\0` prefix is
/// tolerated). 1 when absent or unreadable: a broken EXIF block must not fail a render.
pub fn orientation(raw: &[u8]) -> u8 {
    let raw = raw.strip_prefix(b"Exif\0\0").unwrap_or(raw);
    read_orientation(raw)
        .filter(|o| (1..=8).contains(o))
        .map_or(1, |o| o as u8)
}

fn read_orientation(tiff: &[u8]) -> Option<u32> {
    let big_endian = match tiff.get(..4)? {
        b"II*\0" => false,
        b"MM\0*" => true,
        _ => return None,
    };
    let mut c = Cursor::new(tiff);
    let u16_at =
        |c: &mut Cursor| -> Option<u16> { (if big_endian { c.be16() } else { c.le16() }).ok() };
    let u32_at =
        |c: &mut Cursor| -> Option<u32> { (if big_endian { c.be32() } else { c.le32() }).ok() };
    c.skip(4).ok()?;
    c.pos = usize::try_from(u32_at(&mut c)?).ok()?;
    let entries = u16_at(&mut c)?;
    // Twelve bytes an entry: the loop ends with the block, whatever the count says.
    for _ in 0..entries {
        let tag = u16_at(&mut c)?;
        let kind = u16_at(&mut c)?;
        let count = u32_at(&mut c)?;
        let value_at = c.pos;
        c.skip(4).ok()?;
        if tag != ORIENTATION {
            continue;
        }
        let unit = match kind {
            1 => 1, // BYTE
            3 => 2, // SHORT
            4 => 4, // LONG
            _ => return None,
        };
        if count == 0 {
            return None;
        }
        // A value longer than four bytes lives at an offset; only its first unit is read.
        let mut v = Cursor::new(tiff);
        v.pos = value_at;
        if u64::from(count) * unit > 4 {
            v.pos = usize::try_from(u32_at(&mut v)?).ok()?;
        }
        return match unit {
            1 => v.u8().ok().map(u32::from),
            2 => u16_at(&mut v).map(u32::from),
            _ => u32_at(&mut v),
        };
    }
    None
}

/// Whether the orientation swaps width and height (the 90° and 270° rotations).
pub fn swaps_axes(orientation: u8) -> bool {
    matches!(orientation, 5..=8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal little-endian TIFF block with one IFD entry: Orientation = `o`.
    pub(crate) fn tiff_with_orientation(o: u16) -> Vec<u8> {
        let mut t = b"II*\0\x08\0\0\0".to_vec();
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&0x0112u16.to_le_bytes());
        t.extend_from_slice(&3u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&o.to_le_bytes());
        t.extend_from_slice(&[0, 0]);
        t.extend_from_slice(&0u32.to_le_bytes());
        t
    }

    #[test]
    fn reads_orientation() {
        for o in 1..=8u16 {
            assert_eq!(orientation(&tiff_with_orientation(o)), o as u8);
        }
        let mut prefixed = b"Exif\0\0".to_vec();
        prefixed.extend(tiff_with_orientation(6));
        assert_eq!(orientation(&prefixed), 6);
    }

    #[test]
    fn big_endian_and_other_integer_types() {
        // MM, LONG.
        let mut t = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x04\0\0\0\x01\0\0\0\x06".to_vec();
        t.extend_from_slice(&[0; 4]);
        assert_eq!(orientation(&t), 6);
        // II, BYTE, after another tag.
        let mut t = b"II*\0\x08\0\0\0\x02\0".to_vec();
        t.extend_from_slice(&[0x0F, 0x01, 2, 0, 4, 0, 0, 0, b'a', b'b', b'c', 0]);
        t.extend_from_slice(&[0x12, 0x01, 1, 0, 1, 0, 0, 0, 8, 0, 0, 0]);
        assert_eq!(orientation(&t), 8);
    }

    #[test]
    fn claims_beyond_the_block_are_upright() {
        // 65535 entries declared, one present; an IFD offset past the end; a value offset
        // past the end.
        let mut t = tiff_with_orientation(6);
        t[8..10].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert_eq!(orientation(&t), 6, "the one entry present is read");
        let mut t = tiff_with_orientation(6);
        t[8..10].copy_from_slice(&0xFFFFu16.to_le_bytes());
        t[10..12].copy_from_slice(&0x0100u16.to_le_bytes());
        assert_eq!(orientation(&t[..t.len() - 4]), 1);
        assert_eq!(orientation(b"II*\0\xff\xff\xff\x7f"), 1);
        let mut t = tiff_with_orientation(6);
        t[14..18].copy_from_slice(&1000u32.to_le_bytes());
        t[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(orientation(&t), 1);
    }

    #[test]
    fn garbage_is_upright() {
        assert_eq!(orientation(b""), 1);
        assert_eq!(orientation(b"II*\0\xff\xff\xff\xff"), 1);
        assert_eq!(orientation(&tiff_with_orientation(9)), 1);
    }
}
