//! What an image request means under the configuration: the parameters of both URL grammars
//! ([`crate::grammar`]) with presets, defaults and size rules applied, as one [`Transform`]; the
//! `Accept` negotiation; and the canonical key every spelling of a request maps to.

mod accept;
mod sizes;
mod srcset;
mod transform;

pub use crate::grammar::{
    apply_path_params, is_path_param, parse_query, FormatChoice, RawParams, RequestError,
    MAX_QUERY_PARAMS,
};
pub use accept::Accepted;
pub use sizes::admit_size;
pub use srcset::{
    plan_srcset, Candidate, CandidateSet, SrcsetError, SrcsetForm, SrcsetPlan, SrcsetQuery,
};
pub use transform::{canonical_key, Transform, VariantKey};
