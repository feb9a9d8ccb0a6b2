//! Allowed output sizes (`images.allowed_widths` / `allowed_heights`): with a list set, a size a
//! client asks for must be on it (400 otherwise), or, with `images.snap_to_allowed`, is rounded up
//! to the next size on it (down to the largest when it is beyond them all). This caps the number
//! of variants a size sweep (`w=300`, `w=301`, ...) can make the server render.

use super::RequestError;

/// How many allowed values an error message lists before eliding the rest.
const SHOWN_IN_ERRORS: usize = 12;

/// The size to render for `requested`, given the sorted `allowed` list (empty: anything goes).
pub fn admit_size(
    name: &str,
    requested: u32,
    allowed: &[u32],
    snap: bool,
) -> Result<u32, RequestError> {
    if allowed.is_empty() || allowed.binary_search(&requested).is_ok() {
        return Ok(requested);
    }
    if snap {
        let next = allowed.partition_point(|&size| size < requested);
        return Ok(*allowed.get(next).unwrap_or(&allowed[allowed.len() - 1]));
    }
    let mut shown: Vec<String> = allowed
        .iter()
        .take(SHOWN_IN_ERRORS)
        .map(u32::to_string)
        .collect();
    if allowed.len() > SHOWN_IN_ERRORS {
        shown.push("...".into());
    }
    Err(RequestError::Invalid(format!(
        "{name} must be one of {}",
        shown.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_sizes_pass_others_are_refused() {
        let allowed = [320, 640, 1280];
        assert_eq!(admit_size("w", 640, &allowed, false), Ok(640));
        assert_eq!(
            admit_size("w", 641, &allowed, false),
            Err(RequestError::Invalid(
                "w must be one of 320, 640, 1280".into()
            ))
        );
        assert_eq!(admit_size("w", 12345, &[], false), Ok(12345));
    }

    #[test]
    fn snapping_rounds_up_then_clamps() {
        let allowed = [320, 640, 1280];
        assert_eq!(admit_size("w", 1, &allowed, true), Ok(320));
        assert_eq!(admit_size("w", 321, &allowed, true), Ok(640));
        assert_eq!(admit_size("w", 640, &allowed, true), Ok(640));
        assert_eq!(admit_size("w", 5000, &allowed, true), Ok(1280));
    }

    #[test]
    fn long_lists_are_elided_in_messages() {
        let allowed: Vec<u32> = (1..=40).map(|n| n * 10).collect();
        let Err(RequestError::Invalid(message)) = admit_size("h", 15, &allowed, false) else {
            panic!("refused");
        };
        assert!(message.ends_with("120, ..."), "{message}");
    }
}
