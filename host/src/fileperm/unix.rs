//! Reading owner and mode on Unix, for [`super::unix_rule`].

use super::unix_rule::{verdict, Kind};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The file and every folder above it, both along the path as named and as resolved.
pub fn check(path: &Path) -> Result<(), String> {
    let file = std::fs::metadata(path).map_err(|e| format!("cannot be checked ({e})"))?;
    verdict(Kind::File, file.uid(), file.mode())?;
    let resolved = path.canonicalize().map_err(|e| format!("cannot be resolved ({e})"))?;
    for candidate in [path, resolved.as_path()] {
        for folder in candidate.ancestors().skip(1) {
            let meta = std::fs::metadata(folder).map_err(|e| {
                format!("is in the folder {}, which cannot be checked ({e})", folder.display())
            })?;
            verdict(Kind::Folder, meta.uid(), meta.mode())
                .map_err(|problem| format!("is in the folder {}, which {problem}", folder.display()))?;
        }
    }
    Ok(())
}
