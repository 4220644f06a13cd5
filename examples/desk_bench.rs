//! Server time of each web desk page (issue 26) on a stored archive.
//!
//! Run with `cargo run --release --example desk_bench -- CONFIG [RUNS]`
//! (default 10 timed runs per page, after 2 warm-up runs). It opens the
//! config's store as the daemon does (migrating it to this build's schema
//! if it is older, as `run` would; it polls nothing), serves the daemon's
//! router (`feedwatch::api::router`, the desk included) on a loopback port
//! with the listener's limits, and times each page over HTTP from the
//! request to the last byte of the answer: the server's time plus a
//! loopback round trip. The topic is the config's first; the story and the
//! item are its newest match's. Prints one Markdown table row per page:
//! status, size, the first request's time (the desk's cache of aggregates
//! empty: what the first view after a start costs), then the median and
//! max of the timed runs (within the cache's minute: what every later view
//! costs), in ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use feedwatch::api::{self, ListenerLimits};
use feedwatch::config::Config;
use feedwatch::metrics::Metrics;
use feedwatch::store::Store;
use tokio_util::sync::CancellationToken;

const WARMUP: usize = 2;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: desk_bench CONFIG [RUNS]"))?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(10);
    let mut config = Config::load(std::path::Path::new(&path))?;
    config.http.ui = true;
    config.http.token = None;
    let store = Store::open_existing(config.store.location()).await?;
    let metrics = Arc::new(Metrics::for_instance(store.clock(), None));
    let limits = ListenerLimits::from_config(&config.http);
    let router = api::router(store.clone(), Arc::new(config.clone()), metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(api::serve(listener, router, limits, shutdown.clone()));
    let http = reqwest::Client::new();

    let topic = config
        .topics
        .first()
        .map(|t| t.name.clone())
        .ok_or_else(|| anyhow::anyhow!("the config has no topic"))?;
    let newest: serde_json::Value = serde_json::from_str(
        &http
            .get(format!("{base}/api/items?topic={topic}&limit=1"))
            .send()
            .await?
            .text()
            .await?,
    )?;
    let item = newest[0]["id"].as_i64().unwrap_or(1);
    let story = newest[0]["story_id"].as_i64().unwrap_or(1);
    let feeds = store.list_feeds().await?.len();
    let last_feeds_page = feeds.div_ceil(100).max(1);
    let pages = [
        "/".to_string(),
        format!("/topics/{topic}"),
        format!("/topics/{topic}?by=hour"),
        format!("/stories/{story}"),
        format!("/items/{item}"),
        "/search?q=Kurdistan".to_string(),
        "/search?q=%40kurdistan+NEAR%2F3+%40referendum".to_string(),
        "/search?q=security".to_string(),
        "/search?q=Zanzibar".to_string(),
        "/search?q=Kurdistan+AND+%28Erbil".to_string(),
        "/feeds".to_string(),
        format!("/feeds?page={last_feeds_page}"),
        "/digests".to_string(),
    ];
    println!(
        "{} items' archive ({path}), {feeds} feeds; {WARMUP} warm-up + {runs} timed runs per page\n",
        store.item_count().await?
    );
    println!("| page | status | KiB | first ms | median ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for page in &pages {
        let mut times = Vec::with_capacity(runs);
        let mut first = Duration::ZERO;
        let mut status = 0;
        let mut size = 0;
        for run in 0..WARMUP + runs {
            let started = Instant::now();
            let response = http
                .get(format!("{base}{page}"))
                .header("Accept", "text/html")
                .send()
                .await?;
            status = response.status().as_u16();
            size = response.bytes().await?.len();
            if run == 0 {
                first = started.elapsed();
            }
            if run >= WARMUP {
                times.push(started.elapsed());
            }
        }
        times.sort();
        println!(
            "| `{page}` | {status} | {:.0} | {:.1} | {:.1} | {:.1} |",
            size as f64 / 1024.0,
            ms(first),
            ms(times[times.len() / 2]),
            ms(*times.last().expect("runs > 0"))
        );
    }
    shutdown.cancel();
    server.await??;
    store.close().await;
    Ok(())
}
