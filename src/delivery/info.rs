//! `/info/{path}`: the source's facts from its header, and with `placeholder=1` its
//! placeholders ([`placeholder`](crate::pipeline::placeholder)). Placeholders are a render like any other: signed
//! when signing is on, charged to the client's render rate, estimated and queued on the render
//! pool, and cached in both tiers under the source's content identity (so a sync that changes
//! the file drops them with its variants).

use crate::cache::Lookup;
use crate::error::AppError;
use crate::grammar::wants_placeholder;
use crate::limits::RenderAdmission;
use crate::pipeline::Placeholder;
use crate::request::{RawParams, VariantKey};
use crate::source::{decode_url_segments, FileRef};

use super::{original, Delivery, Job};

/// How placeholders are kept in the variant cache.
pub(super) const PLACEHOLDER_CONTENT_TYPE: &str = "application/json";

/// An `/info` request as the HTTP layer received it.
#[derive(Debug, Clone, Copy)]
pub struct InfoQuery<'a> {
    /// The whole URL path as sent (what signatures cover).
    pub request_path: &'a str,
    /// The URL path below `/info/`, still percent-encoded.
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// Charged when placeholders have to be computed.
    pub admission: &'a RenderAdmission,
}

/// The source's facts, as `/info` reports them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InfoReply {
    pub width: u32,
    pub height: u32,
    pub format: &'static str,
    /// Frames in the file (1 for a still; an animated GIF or WebP renders them all to GIF or
    /// WebP).
    pub frames: u32,
    pub bytes: u64,
    pub content_id: String,
    /// From the folder's `.imgserver.toml`, when it says anything of this image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focus: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// With `placeholder=1`: `thumbhash`, `blurhash`, `dominant_color`, `lqip`.
    #[serde(flatten)]
    pub placeholder: Option<Placeholder>,
}

impl Delivery {
    /// Serves `GET /info/{path}`: the path as `/img/` resolves it (the source's facts; path
    /// parameters are checked as `/img/` checks them), its header read from a prefix.
    pub async fn info(&self, query: InfoQuery<'_>) -> Result<InfoReply, AppError> {
        let wanted = wants_placeholder(query.raw_query)?;
        if wanted {
            self.signatures
                .check_transform(query.request_path, query.raw_query, true)?;
        }
        let segments = decode_url_segments(query.raw_path)?;
        let found = self.resolve(&segments)?;
        self.apply_path_params(&mut RawParams::default(), &found)?;
        let file = found.file;
        let (opened, held) = self.open(&file).await?;
        let info = original::probe(&opened, &self.budget, &self.pipeline)
            .await?
            .info();
        let bytes = opened.size();
        drop((opened, held));
        let meta = self
            .metadata
            .of(&self.source, &file)
            .await
            .unwrap_or_default();
        let placeholder = match wanted {
            true => Some(self.placeholder(&file, query.admission).await?),
            false => None,
        };
        Ok(InfoReply {
            width: info.width,
            height: info.height,
            format: info.format.name(),
            frames: info.frames,
            bytes,
            content_id: file.content_id,
            focus: meta.focus,
            alt: meta.alt,
            placeholder,
        })
    }

    /// The source's placeholders, from the cache or computed on the render pool.
    pub(super) async fn placeholder(
        &self,
        file: &FileRef,
        admission: &RenderAdmission,
    ) -> Result<Placeholder, AppError> {
        let key = VariantKey::for_placeholder(&file.content_id);
        let etag = key.etag();
        let Lookup { variant, .. } = self
            .lookup_or_render(&key, file.clone(), Job::Placeholder, &etag, admission)
            .await?;
        serde_json::from_slice(&variant.bytes)
            .map_err(|e| AppError::internal(anyhow::anyhow!("cached placeholder unreadable: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_sit_beside_the_facts() {
        let reply = InfoReply {
            width: 4,
            height: 3,
            format: "jpeg",
            frames: 1,
            bytes: 10,
            content_id: "c".into(),
            focus: None,
            alt: None,
            placeholder: Some(Placeholder {
                thumbhash: "t".into(),
                blurhash: "b".into(),
                dominant_color: "#000000".into(),
                lqip: "data:image/webp;base64,".into(),
            }),
        };
        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!(json["thumbhash"], "t");
        assert_eq!(json["dominant_color"], "#000000");
        let bare = InfoReply {
            placeholder: None,
            ..reply
        };
        let json = serde_json::to_value(&bare).unwrap();
        assert!(json.get("thumbhash").is_none() && json.get("placeholder").is_none());
    }
}
