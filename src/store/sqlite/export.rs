//! The archive read out in batches for a copy into another store
//! (`store::copy`).

use sqlx::Row;

use super::{parse_ts, Result, SqliteStore, StoreError};
use crate::store::copy::{Kind, Table, Value};

impl SqliteStore {
    /// Rows of `table` in rowid order after `after` (at most `limit`), each
    /// with its rowid.
    pub(in crate::store) async fn export_rows(
        &self,
        table: &Table,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Vec<Value>)>> {
        let columns: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
        let sql = format!(
            "SELECT rowid, {} FROM {} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            columns.join(", "),
            table.name
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|row| {
                let rowid: i64 = row.try_get(0)?;
                let values = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (name, kind))| value(row, i + 1, *kind, table.name, name, rowid))
                    .collect::<Result<Vec<Value>>>()?;
                Ok((rowid, values))
            })
            .collect()
    }

    /// The number of rows of `table` up to rowid `upto`.
    pub(in crate::store) async fn export_count_upto(&self, table: &Table, upto: i64) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {} WHERE rowid <= ?", table.name))
            .bind(upto)
            .fetch_one(&self.read)
            .await?;
        Ok(n as u64)
    }

    /// The number of rows of `table`.
    pub(in crate::store) async fn export_count(&self, table: &Table) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table.name))
            .fetch_one(&self.read)
            .await?;
        Ok(n as u64)
    }
}

fn value(
    row: &sqlx::sqlite::SqliteRow,
    i: usize,
    kind: Kind,
    table: &'static str,
    column: &str,
    rowid: i64,
) -> Result<Value> {
    let malformed = || StoreError::Malformed {
        table,
        row: format!("rowid {rowid}: {column} does not read as {kind:?}"),
    };
    Ok(match kind {
        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Int),
        Kind::Real => row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, Value::Real),
        Kind::Text => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null, Value::Text),
        Kind::Blob => row
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map_or(Value::Null, Value::Blob),
        Kind::Bool => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null, |v| Value::Bool(v != 0)),
        Kind::Time => match row.try_get::<Option<String>, _>(i)? {
            None => Value::Null,
            Some(text) => Value::Time(parse_ts(&text).ok_or_else(malformed)?),
        },
        Kind::Tags => match row.try_get::<Option<String>, _>(i)? {
            None => Value::Null,
            Some(json) => Value::Tags(serde_json::from_str(&json).map_err(|_| malformed())?),
        },
    })
}
