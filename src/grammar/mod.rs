//! What a URL says, before any configuration gives it meaning: the path prefixes every layer
//! names, the two grammars of image parameters (the query string and goimgserver's path
//! segments), and the one error a malformed request gets. Plain parsing over the pipeline's
//! vocabulary; [`crate::request`] resolves the result against the configuration.

mod info_query;
mod operations;
mod params;
mod query_text;

pub use info_query::{placeholder_flag, wants_placeholder};
pub use params::{
    apply_path_params, is_path_param, parse_query, FormatChoice, RawParams, MAX_QUERY_PARAMS,
};
pub use query_text::canonical_query;

/// Images: `/img/{path}`.
pub const IMG_PREFIX: &str = "/img";
/// Facts about an image: `/info/{path}`.
pub const INFO_PREFIX: &str = "/info";
/// The responsive markup of an image: `/srcset/{path}` (the `/img/` path rules too).
pub const SRCSET_PREFIX: &str = "/srcset";
/// The prefixes under which the image routes answer (both follow the `/img/` path rules).
pub const IMAGE_PREFIXES: [&str; 2] = [IMG_PREFIX, INFO_PREFIX];
/// The control plane: admin calls, push webhooks and goimgserver's commands.
pub const ADMIN_PREFIX: &str = "/admin";
pub const HOOKS_PREFIX: &str = "/hooks";
pub const CMD_PREFIX: &str = "/cmd";
pub const CONTROL_PREFIXES: [&str; 3] = [ADMIN_PREFIX, HOOKS_PREFIX, CMD_PREFIX];
/// The studio's JSON endpoints, and the one among them for the admin only.
pub const API_PREFIX: &str = "/api";
pub const API_SIGN: &str = "/api/sign";

/// A request the client got wrong (HTTP 400 `invalid_parameter`); the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Invalid(String),
}

/// What follows `prefix/` in `path` (`below("/img/a.jpg", "/img")` is `a.jpg`).
pub fn below<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)?.strip_prefix('/')
}

/// Whether `path` is `prefix` itself or below it (`/admin`, `/admin/x`; not `/administrator`).
pub fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under("/admin", "/admin"));
        assert!(under("/admin/cache", "/admin"));
        assert!(!under("/administrator", "/admin"));
        assert!(under("/img/a.jpg", "/img"));
        assert!(!under("/imgx/a.jpg", "/img"));
        assert_eq!(below("/img/a/b.jpg", IMG_PREFIX), Some("a/b.jpg"));
        assert_eq!(below("/img", IMG_PREFIX), None);
        assert_eq!(below("/imgx/a.jpg", IMG_PREFIX), None);
    }
}
