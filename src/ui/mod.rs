//! The studio page at `/`: a gallery of the served images and a visual URL builder, written in
//! plain HTML/CSS/JS under `ui/` and compiled into the binary. This module owns those assets
//! ([`assets`]), who may see the page's data and use its admin actions ([`access`]), which files
//! a folder shows ([`gallery`]), the URLs the page is handed ([`links`]: encoded paths,
//! thumbnails, signatures via [`crate::signing`]) and what it reports about the served tree
//! ([`source_status`]). Its handlers are [`crate::routes::studio`] and [`crate::routes::api`].

pub mod access;
pub mod assets;
pub mod gallery;
pub mod links;
pub mod source_status;
