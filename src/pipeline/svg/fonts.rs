//! The fonts SVG text is drawn with, loaded once per process for each fonts directory (the
//! system's when none is configured) and held in memory: a render never opens a font file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use resvg::usvg::fontdb::{Database, Source};

/// The font database for `dir` (`None`: the system's fonts).
pub fn database(dir: Option<&Path>) -> Arc<Database> {
    static LOADED: OnceLock<Mutex<HashMap<Option<PathBuf>, Arc<Database>>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);
    // Held while loading: concurrent first renders wait for one load instead of each loading.
    let mut loaded = loaded.lock().unwrap_or_else(|e| e.into_inner());
    let key = dir.map(Path::to_path_buf);
    loaded
        .entry(key)
        .or_insert_with(|| Arc::new(load(dir)))
        .clone()
}

fn load(dir: Option<&Path>) -> Database {
    let mut scan = Database::new();
    match dir {
        Some(dir) => scan.load_fonts_dir(dir),
        None => scan.load_system_fonts(),
    }
    // fontdb keeps a scanned font as its path and reads the file on every use; read each file
    // once instead, so rendering never touches the filesystem.
    let mut files: Vec<PathBuf> = scan
        .faces()
        .filter_map(|face| match &face.source {
            Source::File(path) => Some(path.clone()),
            _ => None,
        })
        .collect();
    files.sort();
    files.dedup();
    let mut db = Database::new();
    for path in files {
        match std::fs::read(&path) {
            Ok(data) => db.load_font_data(data),
            Err(e) => tracing::warn!("cannot read the font {}: {e}", path.display()),
        }
    }
    set_generic_families(&mut db);
    tracing::info!(faces = db.len(), "SVG fonts loaded");
    db
}

/// fontdb's generic families are Windows' fonts; name ones that are here instead (usvg falls
/// back to `serif` for a family it cannot find).
fn set_generic_families(db: &mut Database) {
    let families: Vec<String> = db
        .faces()
        .flat_map(|face| face.families.iter().map(|(name, _)| name.clone()))
        .collect();
    let pick = |preferred: &[&str], hint: &str| {
        preferred
            .iter()
            .find(|p| families.iter().any(|f| f == *p))
            .map(|p| p.to_string())
            .or_else(|| families.iter().find(|f| f.contains(hint)).cloned())
            .or_else(|| families.first().cloned())
    };
    if let Some(serif) = pick(
        &["Times New Roman", "DejaVu Serif", "Liberation Serif"],
        "Serif",
    ) {
        db.set_serif_family(serif);
    }
    if let Some(sans) = pick(&["Arial", "DejaVu Sans", "Liberation Sans"], "Sans") {
        db.set_sans_serif_family(sans);
    }
    if let Some(mono) = pick(
        &["Courier New", "DejaVu Sans Mono", "Liberation Mono"],
        "Mono",
    ) {
        db.set_monospace_family(mono);
    }
}
