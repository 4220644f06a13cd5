//! Languages in SQL: compared and grouped by their primary subtag, the
//! rule of [`crate::model::primary_language`] (`en-US`, `en_us` and `EN`
//! are `en`). `items.lang` keeps each item's full tag; the story index
//! compares its entries with [`crate::model::same_language`].

/// The SQL expression of the primary subtag of the language in `column`
/// (`''` when NULL or empty), as [`crate::model::primary_language`] gives
/// it. Migration 0015's `story_summary` spells out the same expression.
pub(super) fn primary_sql(column: &str) -> String {
    let tag = format!("trim(coalesce({column}, ''), char(32, 9, 10, 13))");
    format!("lower(substr({tag}, 1, instr(replace({tag}, '_', '-') || '-', '-') - 1))")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::primary_language;

    const TAGS: &[&str] = &[
        "en",
        "en-US",
        "en-us",
        "en_us",
        "EN",
        " en-GB\t",
        "fa-IR",
        "fa",
        "zh-Hant-TW",
        "ckb",
        "-us",
        "",
    ];

    /// SQL gives every tag (and NULL) the primary subtag Rust gives it.
    #[tokio::test]
    async fn sql_agrees_with_model() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        for &tag in TAGS {
            let sql = format!("SELECT {}", primary_sql("?1"));
            let got: String = sqlx::query_scalar(&sql).bind(tag).fetch_one(&pool).await.unwrap();
            assert_eq!(got, primary_language(tag), "{tag:?}");
        }
        let sql = format!("SELECT {}", primary_sql("NULL"));
        let got: String = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
        assert_eq!(got, "");
    }

    /// `story_summary` (migration 0015) lists a story's languages as
    /// `stories` does: primary subtags, once each, missing ones left out.
    #[tokio::test]
    async fn story_summary_lists_primary_languages() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::SqliteStore::open(&dir.path().join("t.db"))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO feeds (url, created_at) VALUES ('https://a.example/rss', '2017-09-25T00:00:00Z')",
        )
        .execute(&store.write)
        .await
        .unwrap();
        let mut tags: Vec<Option<&str>> = TAGS.iter().copied().map(Some).collect();
        tags.push(None);
        for (i, tag) in tags.iter().enumerate() {
            sqlx::query(
                "INSERT INTO items (feed_id, item_key, title, text, lang, sort_at, fetched_at, \
                 first_seen_at, content_hash) VALUES (1, ?, 't', 'x', ?, '2017-09-25T00:00:00Z', \
                 '2017-09-25T00:00:00Z', '2017-09-25T00:00:00Z', 'h')",
            )
            .bind(format!("guid:{i}"))
            .bind(tag)
            .execute(&store.write)
            .await
            .unwrap();
        }
        sqlx::query("UPDATE items SET story_id = (SELECT min(id) FROM stories)")
            .execute(&store.write)
            .await
            .unwrap();
        let story: i64 = sqlx::query_scalar("SELECT min(id) FROM stories")
            .fetch_one(&store.read)
            .await
            .unwrap();
        let listed = store.stories_by_id(&[story]).await.unwrap();
        assert_eq!(listed[0].languages, ["ckb", "en", "fa", "zh"]);
        let summary: String = sqlx::query_scalar("SELECT languages FROM story_summary WHERE id = ?")
            .bind(story)
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(summary, listed[0].languages.join(","));
    }
}
