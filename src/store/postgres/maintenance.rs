//! Maintenance on PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl PgStore {
    pub async fn prune_unmatched(&self, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64> {
        let _ = cutoff;
        let _ = at;
        Err(unsupported("prune_unmatched"))
    }
    pub async fn prune_matched(&self, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> Result<u64> {
        let _ = cutoff;
        let _ = at;
        Err(unsupported("prune_matched"))
    }
    pub async fn prune_tombstones(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        let _ = cutoff;
        Err(unsupported("prune_tombstones"))
    }
    pub async fn backup(&self, path: &Path) -> Result<()> {
        let _ = path;
        Err(unsupported("backup"))
    }
    pub async fn check(&self) -> Result<CheckReport> {
        Err(unsupported("check"))
    }
    pub async fn vacuum(&self) -> Result<Compacted> {
        Err(unsupported("vacuum"))
    }
    pub async fn tidy(&self) -> Result<Option<&'static str>> {
        Err(unsupported("tidy"))
    }
}
