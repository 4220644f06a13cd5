//! The daemon loop under a paused tokio clock: an hour of simulated time,
//! checking that each feed is polled when due and no more often.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use feedwatch::clock::Clock;
use feedwatch::config::Config;
use feedwatch::daemon;
use feedwatch::fetch::hosts::HostLimiter;
use feedwatch::fetch::{FetchSettings, Fetcher};
use feedwatch::pipeline::Pipeline;
use feedwatch::scheduler::Schedules;
use feedwatch::store::Store;
use tokio_util::sync::CancellationToken;

const OLD_FEED: &str = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Old</title>\
    <item><guid>1</guid><title>Old news</title><pubDate>Sat, 23 Sep 2017 10:00:00 +0000</pubDate></item>\
    </channel></rss>";

#[tokio::test]
async fn daemon_polls_each_feed_when_due_over_a_simulated_hour() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fixed.xml"), OLD_FEED).unwrap();
    std::fs::write(dir.path().join("dormant.xml"), OLD_FEED).unwrap();
    let config_path = dir.path().join("feedwatch.toml");
    let config = Config::parse(
        &config_path,
        r#"
[store]
path = "fw.db"
[poll]
min_interval = "5m"
max_interval = "24h"
concurrency = 1
per_host_spacing = "0s"
[[feed]]
url = "file://fixed.xml"
interval = "10m"
[[feed]]
url = "file://dormant.xml"
[[feed]]
url = "file://missing.xml"
"#,
    )
    .unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2025-05-05T10:00:00Z")
        .unwrap()
        .to_utc();
    let store = Store::open(config.store.location())
        .await
        .unwrap()
        .with_clock(Clock::tokio(start));
    let fetcher = Fetcher::new(FetchSettings::from_config(&config.fetch)).unwrap();
    let pipeline = Pipeline::new(
        store.clone(),
        fetcher,
        config.topic_set(),
        HashMap::new(),
        chrono::Duration::days(7),
        Schedules::from_config(&config),
        HostLimiter::new(2, Duration::ZERO),
    )
    .await
    .unwrap();
    store.sync_feeds(&config.feeds).await.unwrap();

    // Pause the clock and drive it by hand. Auto-advance stays off (a
    // blocking task is running), so the database's own timeouts never fire
    // while its worker threads do real work.
    tokio::time::pause();
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let inhibitor = tokio::task::spawn_blocking(move || hold.recv());
    let shutdown = CancellationToken::new();
    let daemon = {
        let (config, store, pipeline, shutdown) =
            (config.clone(), store.clone(), pipeline.clone(), shutdown.clone());
        tokio::spawn(async move {
            daemon::run(
                &config,
                &store,
                &pipeline,
                &std::sync::Arc::new(feedwatch::metrics::Metrics::new(store.clock())),
                &shutdown,
            )
            .await
        })
    };
    for _ in 0..3600 {
        tokio::time::advance(Duration::from_secs(1)).await;
        // Let the feed tasks and the database make real progress.
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(2)))
            .await
            .unwrap();
    }
    shutdown.cancel();
    daemon.await.unwrap();
    release.send(()).unwrap();
    inhibitor.await.unwrap().unwrap();
    // Real time again for the reads below: with the clock paused and no
    // blocking task left, tokio would jump past the read pool's acquire
    // timeout while a connection is being opened (its idle connections
    // were closed an hour of virtual time ago), which failed this test on
    // a loaded machine.
    tokio::time::resume();

    let polls: HashMap<String, i64> = store
        .list_feeds()
        .await
        .unwrap()
        .into_iter()
        .map(|f| {
            let name = Path::new(&f.url)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            (name, f.poll_count)
        })
        .collect();
    // Every 10–11 minutes (interval plus up to 10% jitter).
    assert!((6..=7).contains(&polls["fixed.xml"]), "{polls:?}");
    // No item in four weeks: the longest interval, so once.
    assert_eq!(polls["dormant.xml"], 1, "{polls:?}");
    // Failures back off from 5 minutes: at 0, ~5, ~15, ~35 minutes.
    assert_eq!(polls["missing.xml"], 4, "{polls:?}");
    store.close().await;
}
