//! `/srcset/{path}` and `imgserver srcset`: the responsive markup of one image, as data (JSON)
//! or as the `<picture>` element. The path resolves as `/img/` resolves it (no fallback image:
//! a missing image is a 404, not markup for a stand-in); the candidates are planned from the
//! source's header alone ([`crate::request::plan_srcset`]); every URL is canonical and, with
//! `security.signing_key` set, signed. The HTML is built attribute by attribute, each escaped.

use std::fmt::Write;

use serde::Serialize;

use crate::error::AppError;
use crate::grammar::{canonical_query, RawParams, IMG_PREFIX};
use crate::limits::RenderAdmission;
use crate::pipeline::Placeholder;
use crate::request::{plan_srcset, CandidateSet, SrcsetError, SrcsetForm, SrcsetPlan, SrcsetQuery};
use crate::source::{decode_url_segments, RelPath};

use super::{original, Delivery};

/// The responsive markup of one image; serialised as `/srcset`'s JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrcsetReply {
    /// The middle candidate of the `<img>`'s set, for browsers that read no `srcset`.
    pub src: String,
    pub srcset: String,
    pub sizes: String,
    /// The largest candidate's size: the intrinsic size a page reserves before the image loads.
    pub width: u32,
    pub height: u32,
    /// From the folder's `.imgserver.toml`; `null` when it has none.
    pub alt: Option<String>,
    /// The modern formats, best first (`<source>` elements of the `<picture>`).
    pub sources: Vec<SourceSet>,
    /// With `placeholder=1`, the image's placeholders (`/info`'s: a blurred preview or colour
    /// for the page to show while the image loads); `null` otherwise.
    pub placeholder: Option<Placeholder>,
    /// How the request asked the reply to be written, if it did (`format=`).
    #[serde(skip)]
    pub form: Option<SrcsetForm>,
}

/// One `<source>`: a media type and its candidates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceSet {
    #[serde(rename = "type")]
    pub media_type: &'static str,
    pub srcset: String,
}

impl From<SrcsetError> for AppError {
    fn from(e: SrcsetError) -> Self {
        match e {
            SrcsetError::Request(e) => e.into(),
            SrcsetError::Pipeline(e) => e.into(),
        }
    }
}

impl Delivery {
    /// Plans the srcset of the image at `raw_path` (below `/srcset/`, still percent-encoded)
    /// for the query `raw_query`. Nothing is rendered unless placeholders are asked for, which
    /// `admission` is charged for like `/info`'s.
    pub async fn srcset(
        &self,
        raw_path: &str,
        raw_query: &str,
        admission: &RenderAdmission,
    ) -> Result<SrcsetReply, AppError> {
        let images = &self.settings.images;
        let mut query = SrcsetQuery::parse(raw_query, images)?;
        let segments = decode_url_segments(raw_path)?;
        let found = self.resolve(&segments)?;
        self.apply_path_params(&mut query.params, &found)?;
        let file = found.file;
        let (opened, held) = self.open(&file).await?;
        let outputs = original::probe(&opened, &self.budget, &self.pipeline).await?;
        drop((opened, held));
        let plan = plan_srcset(&query, &outputs, images, &self.pipeline)?;
        let alt = self
            .metadata
            .of(&self.source, &file)
            .await
            .and_then(|meta| meta.alt);
        let mut reply = self.reply(&file.path, &query, plan, alt)?;
        if query.placeholder {
            reply.placeholder = Some(self.placeholder(&file, admission).await?);
        }
        Ok(reply)
    }

    fn reply(
        &self,
        path: &RelPath,
        query: &SrcsetQuery,
        plan: SrcsetPlan,
        alt: Option<String>,
    ) -> Result<SrcsetReply, AppError> {
        let base = path.url_below(IMG_PREFIX);
        let url = |params: &RawParams| {
            let url = format!("{base}?{}", canonical_query(params));
            match self.signatures.signer() {
                // A URL this server built always signs; if one did not, an unsigned candidate
                // would be a broken image on the page, so the whole answer is a 500 instead.
                Some(signer) => signer.sign_url(&url).map_err(AppError::internal),
                None => Ok(url),
            }
        };
        let srcset = |set: &CandidateSet| -> Result<String, AppError> {
            let mut text = String::new();
            for (i, c) in set.candidates.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                let _ = write!(text, "{sep}{} {}w", url(&c.params)?, c.width);
            }
            Ok(text)
        };
        let img = &plan.img.candidates;
        let (middle, largest) = (&img[img.len() / 2], &img[img.len() - 1]);
        let mut sources = Vec::with_capacity(plan.sources.len());
        for set in &plan.sources {
            if let Some(format) = set.format {
                sources.push(SourceSet {
                    media_type: format.mime(),
                    srcset: srcset(set)?,
                });
            }
        }
        Ok(SrcsetReply {
            src: url(&middle.params)?,
            srcset: srcset(&plan.img)?,
            sizes: query.sizes.clone(),
            width: largest.width,
            height: largest.height,
            alt,
            sources,
            placeholder: None,
            form: query.form,
        })
    }
}

impl SrcsetReply {
    /// The `<picture>` element: a `<source>` per modern format, then the `<img>` with its
    /// intrinsic size (no layout shift), lazy loading and asynchronous decoding.
    pub fn to_html(&self) -> String {
        let mut html = String::from("<picture>");
        for source in &self.sources {
            html.push_str("<source");
            attribute(&mut html, "type", source.media_type);
            attribute(&mut html, "srcset", &source.srcset);
            attribute(&mut html, "sizes", &self.sizes);
            html.push('>');
        }
        html.push_str("<img");
        attribute(&mut html, "src", &self.src);
        attribute(&mut html, "srcset", &self.srcset);
        attribute(&mut html, "sizes", &self.sizes);
        attribute(&mut html, "width", &self.width.to_string());
        attribute(&mut html, "height", &self.height.to_string());
        attribute(&mut html, "alt", self.alt.as_deref().unwrap_or(""));
        attribute(&mut html, "loading", "lazy");
        attribute(&mut html, "decoding", "async");
        html.push_str("></picture>\n");
        html
    }
}

/// ` name="value"`, the value escaped for a double-quoted attribute (`&`, `"`, `<`, `>`): no
/// value can end its attribute or open a tag, wherever a page pastes the element.
fn attribute(html: &mut String, name: &str, value: &str) {
    html.push(' ');
    html.push_str(name);
    html.push_str("=\"");
    html_escape::encode_double_quoted_attribute_to_string(value, html);
    html.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_escaped() {
        let reply = SrcsetReply {
            src: "/img/a.jpg?w=1&h=2".into(),
            srcset: "/img/a.jpg?w=1 1w".into(),
            sizes: "100vw".into(),
            width: 1,
            height: 2,
            alt: Some(r#""><script>alert('x')</script>"#.into()),
            sources: vec![],
            placeholder: None,
            form: None,
        };
        let html = reply.to_html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains(r#"src="/img/a.jpg?w=1&amp;h=2""#), "{html}");
        assert!(html.contains("&quot;&gt;&lt;script&gt;"), "{html}");
    }
}
