//! The one EXIF field the pipeline honours: Orientation (1..=8). Everything else in EXIF is
//! dropped with the rest of the metadata.

/// The orientation stored in a raw EXIF block (TIFF header first; an `Exif\0\0` prefix is
/// tolerated). 1 when absent or unreadable: a broken EXIF block must not fail a render.
pub fn orientation(raw: &[u8]) -> u8 {
    let raw = raw.strip_prefix(b"Exif\0\0").unwrap_or(raw);
    let Ok(exif) = exif::Reader::new().read_raw(raw.to_vec()) else {
        return 1;
    };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|o| (1..=8).contains(o))
        .map_or(1, |o| o as u8)
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
    fn garbage_is_upright() {
        assert_eq!(orientation(b""), 1);
        assert_eq!(orientation(b"II*\0\xff\xff\xff\xff"), 1);
        assert_eq!(orientation(&tiff_with_orientation(9)), 1);
    }
}
