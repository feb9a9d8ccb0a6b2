//! The configuration as the layers give it, before validation. Every leaf is a [`Field`] so that
//! a value of the wrong type is recorded as a problem instead of aborting at the first one.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// A leaf value: either of the expected type, or the reason it is not.
#[derive(Debug, Clone)]
pub enum Field<T> {
    Ok(T),
    Bad(String),
}

impl<T: Default> Default for Field<T> {
    fn default() -> Self {
        Field::Ok(T::default())
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = config::Value::deserialize(d)?;
        Ok(match value.try_deserialize::<T>() {
            Ok(v) => Field::Ok(v),
            Err(e) => Field::Bad(e.to_string()),
        })
    }
}

/// Keys present in a section that the section does not know (typos, stale settings).
pub type Unknown = BTreeMap<String, config::Value>;

/// A number of bytes, or a human string such as "128MiB".
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(u64),
    Text(String),
}

/// A list given as an array (files) or as one comma-separated string (environment).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ListValue {
    Items(Vec<config::Value>),
    Text(String),
}

macro_rules! section {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Deserialize)]
        pub struct $name {
            $(#[serde(default)] pub $field: Field<$ty>,)*
            #[serde(flatten)]
            pub unknown: Unknown,
        }
    };
}

section!(RawServer {
    bind: String,
    port: u16,
    workers: usize,
    trusted_proxies: ListValue,
    shutdown_timeout: String,
    keep_alive: String,
    client_request_timeout: String,
});

#[derive(Debug, Deserialize)]
pub struct RawSource {
    #[serde(default)]
    pub dir: Field<String>,
    pub git: RawGit,
    #[serde(flatten)]
    pub unknown: Unknown,
}

section!(RawGit {
    remote: String,
    branch: String,
    token: String,
    token_file: String,
    ssh_key: String,
    known_hosts: String,
    timeout: String,
    sync_interval: String,
    on_diverge: String,
    depth: u32,
});

section!(RawCache {
    dir: String,
    memory_bytes: SizeValue,
    max_disk_bytes: SizeValue,
    max_disk_entries: i64,
});

section!(RawImages {
    default_quality: i64,
    quality: BTreeMap<String, i64>,
    max_width: i64,
    max_height: i64,
    max_source_pixels: u64,
    max_source_bytes: SizeValue,
    max_frames: u32,
    max_animation_pixels: u64,
    fallback: String,
    fallback_status: u16,
    fallback_cache_control: String,
    allowed_widths: ListValue,
    allowed_heights: ListValue,
    srcset_widths: ListValue,
    snap_to_allowed: bool,
    presets_only: bool,
    webp_effort: u8,
    avif_speed: u8,
    max_avif_pixels: u64,
    shrink_on_load: String,
    max_svg_bytes: SizeValue,
    max_svg_nodes: u32,
    svg_fonts_dir: String,
    presets: BTreeMap<String, String>,
});

section!(RawHttp {
    cache_control: String
});
section!(RawAdmin {
    token: String,
    token_file: String,
});

section!(RawLimits {
    max_concurrent_renders: usize,
    render_queue: usize,
    render_timeout: String,
    heavy_render_cost: String,
    per_ip_per_second: u32,
    per_ip_burst: u32,
    hit_per_ip_per_second: u32,
    admin_per_minute: u32,
    source_bytes_in_flight: SizeValue,
});

section!(RawSecurity {
    signing_key: String,
    signing_key_file: String,
    sign_originals: bool,
});

section!(RawWebhook {
    secret: String,
    secret_file: String,
});

section!(RawMetrics {
    enabled: bool,
    allow: ListValue,
});

section!(RawUi {
    enabled: bool,
    require_token: bool,
});

section!(RawLog {
    level: String,
    format: String,
});

impl Default for SizeValue {
    fn default() -> Self {
        SizeValue::Bytes(0)
    }
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::Items(Vec::new())
    }
}

#[derive(Debug, Deserialize)]
pub struct RawSettings {
    pub server: RawServer,
    pub source: RawSource,
    pub cache: RawCache,
    pub images: RawImages,
    pub http: RawHttp,
    pub admin: RawAdmin,
    pub limits: RawLimits,
    pub security: RawSecurity,
    pub webhook: RawWebhook,
    pub metrics: RawMetrics,
    pub ui: RawUi,
    pub log: RawLog,
    #[serde(flatten)]
    pub unknown: Unknown,
}
