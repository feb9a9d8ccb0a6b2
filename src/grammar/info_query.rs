//! The query of `/info/{path}`: `placeholder=1` asks for the image's placeholders (`/srcset`
//! takes the same flag, [`placeholder_flag`]). Other parameters are ignored, as they always
//! were on `/info` (a cache-busting `?v=3` keeps working); the signature parameter is the
//! signing layer's.

use super::RequestError;

/// Whether the query asks for placeholders (`placeholder=1` or `true`; `0`, `false` or absent
/// for none). Any other value is refused rather than guessed.
pub fn wants_placeholder(raw_query: &str) -> Result<bool, RequestError> {
    let mut wanted = false;
    for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        if name != "placeholder" {
            continue;
        }
        wanted = placeholder_flag(&value)?;
    }
    Ok(wanted)
}

/// The value of a `placeholder` parameter: `1`/`true` or `0`/`false`.
pub fn placeholder_flag(value: &str) -> Result<bool, RequestError> {
    match value {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(RequestError::Invalid(
            "placeholder must be 1 or 0".to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_is_a_flag() {
        assert_eq!(wants_placeholder(""), Ok(false));
        assert_eq!(wants_placeholder("v=3"), Ok(false));
        assert_eq!(wants_placeholder("placeholder=1"), Ok(true));
        assert_eq!(wants_placeholder("placeholder=true&s=abc"), Ok(true));
        assert_eq!(wants_placeholder("placeholder=0"), Ok(false));
        assert!(wants_placeholder("placeholder=yes").is_err());
        assert!(wants_placeholder("placeholder=").is_err());
    }
}
