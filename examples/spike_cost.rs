//! What evaluating spikes costs (issue 25): the store's count behind
//! `trigger = "spike"` for an alert of N topics, over an archive of 15
//! days of their matches, on SQLite or PostgreSQL.
//!
//! The first run fills an empty store through the store's writer
//! (`Store::apply_feed_update`, as ingest does): one feed, N topics, each
//! matched by ITEMS items a day spread at random over 15 days (published
//! times up to now). Then it times `Store::topic_volume` (the count for
//! every topic's current window and its 14 baseline windows, in one
//! statement) plus the rule (`triggers::judge_series`) for all N topics,
//! RUNS times, the same as N single-topic alerts (N statements), and a
//! story alert of the N topics (`Store::story_copies` of the last day
//! plus `triggers::breaking`).
//!
//! ```sh
//! cargo run --release --example spike_cost -- /tmp/spikes.db [TOPICS] [ITEMS] [RUNS]
//! cargo run --release --example spike_cost -- postgres://… [TOPICS] [ITEMS] [RUNS]
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use feedwatch::config::Config;
use feedwatch::fetch::Validators;
use feedwatch::model::NewItem;
use feedwatch::store::{FeedUpdate, ItemWrite, NextCheck, SearchText, Store};
use feedwatch::triggers::{judge_series, series, SpikeRule};

const DAYS: i64 = 15;
const BATCH: usize = 5_000;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let db = args
        .next()
        .ok_or("usage: spike_cost DB|URL [TOPICS] [ITEMS] [RUNS]")?;
    let topics: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let per_day: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(24);
    let runs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let store_table = if db.starts_with("postgres") {
        format!("[store]\nurl = {db:?}\n")
    } else {
        let path = std::path::absolute(PathBuf::from(&db))?;
        format!("[store]\npath = {:?}\n", path.to_string_lossy())
    };
    let mut source =
        format!("{store_table}[[feed]]\nurl = \"https://bench.example/feed\"\nname = \"Bench\"\n");
    for i in 0..topics {
        source.push_str(&format!("[[topic]]\nname = \"t{i}\"\nquery = \"w{i}\"\n"));
    }
    let config = Config::parse(&std::env::temp_dir().join("spike_cost.toml"), &source)?;
    let store = Store::open(config.store.location()).await?;
    let now = Utc::now();
    let rows = store.sync_topics(&config.topic_set(), now).await?;
    // In the set's order: topic i is `t{i}`.
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();

    if store.item_count().await? == 0 {
        let feed = store.sync_feeds(&config.feeds).await?[0].id;
        let mut rng = fastrand::Rng::with_seed(25);
        let started = Instant::now();
        let mut items = Vec::new();
        let mut n = 0u64;
        for (i, &topic_id) in ids.iter().enumerate() {
            for _ in 0..per_day * DAYS as usize {
                n += 1;
                let published = now - chrono::Duration::seconds(rng.i64(0..DAYS * 86_400));
                let (title, text) = (format!("w{i} item {n}"), format!("w{i} text of item {n}."));
                let link = format!("https://bench.example/{n}");
                items.push(ItemWrite {
                    item: NewItem {
                        guid: Some(link.clone()),
                        url: Some(link.clone()),
                        title: title.clone(),
                        text: text.clone(),
                        published: Some(published),
                        updated: None,
                        language: Some("en".into()),
                        author: None,
                    },
                    declared_lang: None,
                    key: format!("guid:{link}"),
                    content_hash: n.to_string(),
                    stored: false,
                    canonical_url: feedwatch::stories::canonical_url(&link),
                    fingerprint: None,
                    sketch: None,
                    topic_ids: vec![topic_id],
                    search: SearchText::new(&title, &text, Some("en")),
                    page: false,
                });
                if items.len() == BATCH {
                    write(&store, feed, now, std::mem::take(&mut items)).await?;
                }
            }
        }
        write(&store, feed, now, items).await?;
        println!(
            "filled: {n} items of {topics} topics over {DAYS} days in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    let names: Vec<String> = (0..topics).map(|i| format!("t{i}")).collect();
    let rule = SpikeRule::default();
    let buckets = rule.buckets();
    let evaluate = |rows: Vec<(String, i64, i64)>| {
        let mut by_topic: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
        for (topic, bucket, count) in rows {
            by_topic.entry(topic).or_default().push((bucket, count));
        }
        names
            .iter()
            .filter(|t| {
                let s = series(&buckets, by_topic.get(*t).map_or(&[][..], Vec::as_slice));
                judge_series(&rule, &s).spiking
            })
            .count()
    };
    let mut one = Vec::new();
    let mut counted = 0;
    let mut spiking = 0;
    for run in 0..runs + 2 {
        let started = Instant::now();
        let rows = store.topic_volume(&names, Utc::now(), buckets).await?;
        counted = rows.iter().map(|r| r.2).sum::<i64>();
        spiking = evaluate(rows);
        if run >= 2 {
            one.push(started.elapsed());
        }
    }
    let mut each = Vec::new();
    for run in 0..(runs / 4).max(3) + 1 {
        let started = Instant::now();
        for name in &names {
            store
                .topic_volume(std::slice::from_ref(name), Utc::now(), buckets)
                .await?;
        }
        if run >= 1 {
            each.push(started.elapsed());
        }
    }
    // A story alert of the same topics: the copies of the last day's
    // stories (`trigger = "story"`), and the rule over them.
    let mut stories = Vec::new();
    let mut copies = 0;
    for run in 0..runs / 2 + 1 {
        let started = Instant::now();
        let now = Utc::now();
        let rows = store
            .story_copies(
                &names,
                now - chrono::Duration::days(1),
                DateTime::<Utc>::UNIX_EPOCH,
            )
            .await?;
        copies = rows.len();
        let rows: Vec<feedwatch::triggers::Copy> = rows
            .into_iter()
            .map(|c| feedwatch::triggers::Copy {
                story_id: c.story_id,
                headline: c.headline,
                outlet: c.outlet,
                at: c.at,
            })
            .collect();
        feedwatch::triggers::breaking(&feedwatch::triggers::StoryRule::default(), &rows);
        if run >= 1 {
            stories.push(started.elapsed());
        }
    }
    one.sort();
    each.sort();
    stories.sort();
    println!(
        "{} items in the store; {topics} topics, windows of {} s every {} s back {} windows; \
         {counted} items counted per evaluation, {spiking} topics spiking",
        store.item_count().await?,
        buckets.window_secs,
        buckets.step_secs,
        buckets.windows
    );
    println!("| evaluation of {topics} topics | median ms | p95 ms | runs |");
    println!("|---|---:|---:|---:|");
    println!(
        "| one alert of {topics} topics (one statement) | {:.1} | {:.1} | {} |",
        percentile(&one, 0.5),
        percentile(&one, 0.95),
        one.len()
    );
    println!(
        "| {topics} alerts of one topic ({topics} statements) | {:.1} | {:.1} | {} |",
        percentile(&each, 0.5),
        percentile(&each, 0.95),
        each.len()
    );
    println!(
        "| a story alert of {topics} topics ({copies} copies of the last day) | {:.1} | {:.1} | {} |",
        percentile(&stories, 0.5),
        percentile(&stories, 0.95),
        stories.len()
    );
    store.close().await;
    Ok(())
}

async fn write(
    store: &Store,
    feed: i64,
    now: DateTime<Utc>,
    items: Vec<ItemWrite>,
) -> Result<(), Box<dyn std::error::Error>> {
    store
        .apply_feed_update(FeedUpdate {
            feed_id: feed,
            at: now,
            status: 200,
            validators: Validators::default(),
            title: None,
            site_url: None,
            items,
            story_window: chrono::Duration::days(7),
            next: NextCheck {
                at: now + chrono::Duration::hours(1),
                interval: Duration::from_secs(3600),
                moved_to: None,
            },
            items_per_week: None,
            warning: None,
        })
        .await?;
    Ok(())
}
