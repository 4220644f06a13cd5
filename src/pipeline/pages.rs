//! The page stage (`full_text`): items whose feed gives only a teaser get
//! their article page fetched and extracted, and are matched again on
//! their article's text.
//!
//! Items wait in the store's page queue ([`Store::claim_pages`]), put
//! there at ingest by their feed's `full_text`. A pass claims the oldest
//! due ones (at most `[fetch] pages_per_cycle`: one huge feed cannot queue
//! thousands of fetches at once; the rest wait for the next pass), fetches
//! each canonical URL's page once (however many items of it wait), at most
//! `[fetch] page_concurrency` at once (feed polls have their own limit and
//! are never starved) and through the same per-host politeness as feed
//! polls (a feed and its article pages are one host), with the same
//! fetcher (SSRF guard on every hop, timeouts, the body cap). The page is
//! decoded as a browser would ([`crate::parse::decode::html_to_utf8`]) and
//! extracted ([`crate::extract`]); an article longer than the teaser
//! becomes the item's text and is matched: a topic it matches that the
//! teaser did not is a new match, alerted like any other. A page that
//! cannot be fetched or extracted leaves the teaser, records why on the
//! item and is tried again later, at most [`MAX_PAGE_ATTEMPTS`] times.

use url::Url;

use super::*;
use crate::extract::{self, ExtractError};
use crate::fetch::FetchError;
use crate::parse::decode::html_to_utf8;
use crate::store::{PageJob, PageOutcome, PageText, PageWrite, MAX_PAGE_ATTEMPTS};

/// How long a claimed item is this pass's before another pass (or
/// instance) may claim it again: longer than any pass.
const PAGE_LEASE: Duration = Duration::from_secs(1800);
/// The wait before a failed page is tried again, times the attempts so far.
const PAGE_RETRY: Duration = Duration::from_secs(1800);
/// Results written per transaction while a pass goes on.
const WRITE_EVERY: usize = 50;

/// Totals of one pass over the page queue.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageStats {
    /// Items claimed.
    pub items: usize,
    /// Pages received (one per canonical URL).
    pub fetched: usize,
    /// Items whose text is now their article's.
    pub extracted: usize,
    /// Items whose page was read but said no more than the feed's text.
    pub teaser: usize,
    /// Items whose page could not be fetched or extracted.
    pub failed: usize,
    /// Bytes of the pages received (decompressed).
    pub bytes: u64,
    /// New topic matches found in the articles.
    pub matches: u64,
}

/// What one page gave its items.
struct PageResult {
    writes: Vec<PageWrite>,
    /// Bytes received, when the page was.
    bytes: Option<u64>,
}

impl Pipeline {
    /// One pass over the page queue: at most `limit` due items, oldest
    /// first, their pages fetched at most `concurrency` at once. Stops
    /// early (writing what it has) when `cancel` fires; the items not
    /// done are claimed again after their lease. Only a database failure
    /// is `Err`.
    pub async fn fetch_pages(
        &self,
        limit: usize,
        concurrency: usize,
        cancel: &CancellationToken,
    ) -> Result<PageStats, StoreError> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let jobs = self
            .store
            .claim_pages(self.clock.now(), limit, PAGE_LEASE)
            .await?;
        let mut stats = PageStats {
            items: jobs.len(),
            ..PageStats::default()
        };
        if jobs.is_empty() {
            return Ok(stats);
        }
        // One fetch per canonical URL (else link), in claim order.
        let mut groups: Vec<Vec<PageJob>> = Vec::new();
        let mut by_url: HashMap<String, usize> = HashMap::new();
        for job in jobs {
            let key = job.canonical_url.clone().unwrap_or_else(|| job.url.clone());
            match by_url.get(&key) {
                Some(&g) => groups[g].push(job),
                None => {
                    by_url.insert(key, groups.len());
                    groups.push(vec![job]);
                }
            }
        }
        let slots = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for group in groups {
            let (pipeline, cancel, slots) = (self.clone(), cancel.clone(), Arc::clone(&slots));
            tasks.spawn(async move {
                let _slot = tokio::select! {
                    _ = cancel.cancelled() => return Ok(None),
                    slot = slots.acquire_owned() => slot.expect("the semaphore is never closed"),
                };
                pipeline.page(group, &cancel).await
            });
        }
        let mut writes = Vec::new();
        let mut failure = None;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(Some(result))) => {
                    if let Some(bytes) = result.bytes {
                        stats.fetched += 1;
                        stats.bytes += bytes;
                    }
                    for write in &result.writes {
                        match &write.outcome {
                            PageOutcome::Extracted { text: Some(_), .. } => stats.extracted += 1,
                            PageOutcome::Extracted { text: None, .. } => stats.teaser += 1,
                            PageOutcome::Failed { .. } => stats.failed += 1,
                        }
                    }
                    writes.extend(result.writes);
                }
                Ok(Ok(None)) => {}
                Ok(Err(error)) => failure = Some(error),
                // A bug a page reached: its items are claimed again later.
                Err(error) => {
                    tracing::error!(error = %panic_message(error), "fetching an article page failed");
                }
            }
            if writes.len() >= WRITE_EVERY {
                stats.matches += self.store.apply_pages(&writes, self.clock.now()).await?;
                writes.clear();
            }
        }
        if !writes.is_empty() {
            stats.matches += self.store.apply_pages(&writes, self.clock.now()).await?;
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(stats),
        }
    }

    /// Fetches the page of `jobs` (items of one canonical URL) once and
    /// says what it gives each. `None` when cancelled first.
    async fn page(
        &self,
        jobs: Vec<PageJob>,
        cancel: &CancellationToken,
    ) -> Result<Option<PageResult>, StoreError> {
        let url = jobs[0].url.clone();
        let Some(pass) = self.admit_host(&HostLimiter::key(&url), cancel).await? else {
            return Ok(None);
        };
        let plain = Validators::default();
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return Ok(None),
            outcome = self.fetcher.fetch(&url, &plain) => outcome,
        };
        drop(pass);
        let now = self.clock.now();
        let fetched = match outcome {
            Ok(FetchOutcome::Fetched(fetched)) => fetched,
            Ok(FetchOutcome::NotModified(_)) => {
                let error = "the page answered 304 Not Modified to a plain request".to_string();
                return Ok(Some(failed(jobs, error, true, now)));
            }
            Err(error) => {
                tracing::debug!(url = %crate::redact::url(&url), error = %error_chain(&error), "article page fetch failed");
                let retry = retried(&error);
                return Ok(Some(failed(
                    jobs,
                    format!("page fetch failed: {}", error_chain(&error)),
                    retry,
                    now,
                )));
            }
        };
        let bytes = fetched.body.len() as u64;
        let topics = Arc::clone(&self.topics);
        let topic_ids = Arc::clone(&self.topic_ids);
        let feed_tags = Arc::clone(&self.feed_tags);
        let ids: Vec<i64> = jobs.iter().map(|j| j.item_id).collect();
        let read = tokio::task::spawn_blocking(move || {
            let page_url = Url::parse(&fetched.final_url).or_else(|_| Url::parse(&url));
            let page_url = page_url.map_err(|e| format!("the page's URL does not parse: {e}"))?;
            let page = html_to_utf8(&fetched.body, fetched.content_type.as_deref());
            let article =
                extract::extract(&page, &page_url).map_err(|e| (e.to_string(), retried_extraction(&e)));
            let article = match article {
                Ok(article) => article,
                Err((error, retry)) => return Ok(failed(jobs, error, retry, now).writes),
            };
            Ok(jobs
                .iter()
                .map(|job| PageWrite {
                    item_id: job.item_id,
                    outcome: PageOutcome::Extracted {
                        text: article_text(job, &article.text, &topics, &topic_ids, &feed_tags),
                        author: article.author.clone(),
                        declared_lang: article.lang.clone(),
                    },
                })
                .collect())
        })
        .await;
        let writes = match read {
            Ok(Ok(writes)) => writes,
            Ok(Err(error)) => failed_ids(&ids, error, false, now),
            // A bug some page reaches: that page's failure, not the pass's.
            Err(error) => failed_ids(
                &ids,
                format!("internal error while reading the page: {}", panic_message(error)),
                false,
                now,
            ),
        };
        Ok(Some(PageResult {
            writes,
            bytes: Some(bytes),
        }))
    }
}

/// The article's text for `job`, matched, when it says more than the
/// feed's teaser (more words); else `None` and the teaser stays. Pure CPU
/// work.
fn article_text(
    job: &PageJob,
    article: &str,
    topics: &TopicSet,
    topic_ids: &[i64],
    config_tags: &HashMap<String, Vec<String>>,
) -> Option<PageText> {
    if article.split_whitespace().count() <= job.text.split_whitespace().count() {
        return None;
    }
    let lang = job.lang.as_deref();
    let title_words = crate::text::words_in(&job.title, lang);
    let text_words = crate::text::words_in(article, lang);
    let added_tags: Vec<String> = serde_json::from_str(&job.feed_tags).unwrap_or_default();
    let meta = Meta {
        lang,
        feed_name: job.feed_name.as_deref(),
        feed_tags: config_tags
            .get(&job.feed_url)
            .map_or(&added_tags[..], Vec::as_slice),
    };
    let doc = Document::from_words(title_words, text_words, meta);
    let matched = topics.matches(&doc);
    let (title_words, text_words) = doc.into_words();
    Some(PageText {
        text: article.to_string(),
        search: SearchText::from_words(&title_words, &text_words),
        topic_ids: matched.iter().map(|&t| topic_ids[t]).collect(),
    })
}

/// Whether a failed fetch is worth another try: not when the page is gone,
/// refused by the SSRF guard, malformed or over the size cap.
fn retried(error: &FetchError) -> bool {
    !matches!(
        error,
        FetchError::Blocked(_) | FetchError::BadUrl { .. } | FetchError::TooLarge { .. }
    ) && !matches!(error.status(), Some(404 | 410))
}

/// Whether a failed extraction is worth another try: a page without an
/// article will not grow one.
fn retried_extraction(error: &ExtractError) -> bool {
    !matches!(error, ExtractError::NoArticle { .. })
}

/// The failure of every item of `jobs`, retried (after a wait that grows
/// with its attempts) unless `retry` is false or it has had its attempts.
fn failed(jobs: Vec<PageJob>, error: String, retry: bool, now: DateTime<Utc>) -> PageResult {
    PageResult {
        writes: jobs
            .iter()
            .map(|job| failure(job.item_id, job.attempts, &error, retry, now))
            .collect(),
        bytes: None,
    }
}

/// [`failed`], for items whose attempts are unknown here: not retried.
fn failed_ids(ids: &[i64], error: String, retry: bool, now: DateTime<Utc>) -> Vec<PageWrite> {
    ids.iter()
        .map(|&id| failure(id, MAX_PAGE_ATTEMPTS, &error, retry, now))
        .collect()
}

fn failure(item_id: i64, attempts: i64, error: &str, retry: bool, now: DateTime<Utc>) -> PageWrite {
    let attempts = attempts + 1;
    let wait = PAGE_RETRY.saturating_mul(u32::try_from(attempts).unwrap_or(u32::MAX));
    PageWrite {
        item_id,
        outcome: PageOutcome::Failed {
            error: error.to_string(),
            retry_at: (retry && attempts < MAX_PAGE_ATTEMPTS)
                .then(|| now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)),
        },
    }
}
