//! Local files: JSON Lines (one digest per line, appended) or one `.eml`
//! file per digest in a directory. Both are idempotent: a digest already
//! written (same id) is not written again.

use std::path::Path;

use tokio::io::AsyncWriteExt;

use super::DeliverError;
use crate::digest::{render, Digest};

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> DeliverError + '_ {
    move |source| DeliverError::File {
        path: path.display().to_string(),
        source,
    }
}

pub(super) async fn append_jsonl(path: &Path, digest: &Digest) -> Result<(), DeliverError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(file_error(dir))?;
    }
    let line = serde_json::to_string(digest).expect("digests serialise");
    // A retry after an interrupted attempt must not append the digest twice.
    let marker = format!(
        "{{\"id\":{}",
        serde_json::to_string(&digest.id).expect("strings serialise")
    );
    match tokio::fs::read_to_string(path).await {
        Ok(existing) if existing.lines().any(|l| l.starts_with(&marker)) => return Ok(()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_error(path)(e)),
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(file_error(path))?;
    file.write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(file_error(path))?;
    file.sync_data().await.map_err(file_error(path))?;
    Ok(())
}

pub(super) async fn write_eml(dir: &Path, digest: &Digest) -> Result<(), DeliverError> {
    tokio::fs::create_dir_all(dir).await.map_err(file_error(dir))?;
    let message = render::email(
        digest,
        "feedwatch <feedwatch@localhost>",
        &["feedwatch@localhost".to_string()],
    )
    .map_err(DeliverError::Email)?;
    // Write then rename: the digest's file appears whole, once.
    let path = dir.join(format!("{}.eml", digest.id));
    let tmp = dir.join(format!(".{}.eml.tmp", digest.id));
    tokio::fs::write(&tmp, message.formatted())
        .await
        .map_err(file_error(&tmp))?;
    tokio::fs::rename(&tmp, &path).await.map_err(file_error(&path))?;
    Ok(())
}
