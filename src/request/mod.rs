//! Parsing and validating image requests: both URL grammars into one [`Transform`], the `Accept`
//! negotiation, and the canonical key every spelling of a request maps to.

mod accept;
mod params;
mod sizes;
mod transform;

pub use accept::Accepted;
pub use params::{
    apply_path_params, is_path_param, parse_query, FormatChoice, RawParams, MAX_QUERY_PARAMS,
};
pub use sizes::admit_size;
pub use transform::{canonical_key, Transform, VariantKey};

/// A request the client got wrong (HTTP 400 `invalid_parameter`); the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Invalid(String),
}
