//! Alerts: decides when each alert's digest is due (new matches; for
//! `trigger = "spike"` spike episodes, recorded here as they begin and end
//! from the store's counts and `triggers`' rule; for `trigger = "story"`
//! stories breaking across outlets), builds digests through
//! the store's outbox (one transaction records each digest with the matches
//! it covers), then delivers pending digests, each channel on its own task,
//! with exponential backoff. A digest is marked delivered only after its
//! channel accepted it; a retry sends the same digest with the same id.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{AlertConfig, ChannelConfig, Config, Trigger, FEED_HEALTH};
use crate::deliver::{DeliverError, Deliverer};
use crate::digest::health::{self, HealthNotice, HealthSettings};
use crate::digest::schedule::Schedule;
use crate::digest::{self, BreakingNotice, BuildContext, Counted, Digest, SpikeNotice, StoryCount};
use crate::error_chain;
use crate::store::{AlertState, DigestBatch, DigestRecord, NewDigest, PendingMatch, Store, StoreError};
use crate::topics::TopicSet;
use crate::triggers::{self, EpisodeStep, SpikeRule, StoryRule, Verdict};

/// First retry delay; doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How often the daemon checks for due alerts and deliveries.
const TICK: Duration = Duration::from_secs(15);

/// Spike episodes begun longer ago than this are not reported to a channel
/// that has not had them (one added to the alert later, say).
const SPIKE_NOTICE_HORIZON: chrono::Duration = chrono::Duration::days(7);
/// Outlets, languages and stories a spike notice names.
const SPIKE_TOP: u32 = 3;

/// The notices an alert has to give at one moment, each with the key the
/// outbox records per channel once it is sent: feed-health episodes
/// (`failing:…`), spike episodes (`spike:ID`), breaking stories
/// (`story:ID`).
#[derive(Debug, Default)]
struct Notices {
    health: Vec<HealthNotice>,
    spikes: Vec<(String, SpikeNotice)>,
    breaking: Vec<(String, BreakingNotice)>,
}

impl Notices {
    fn keys(&self) -> Vec<String> {
        self.health
            .iter()
            .map(|n| n.key.clone())
            .chain(self.spikes.iter().map(|(k, _)| k.clone()))
            .chain(self.breaking.iter().map(|(k, _)| k.clone()))
            .collect()
    }

    /// The notices at `indices` of [`Notices::keys`].
    fn select(&self, indices: &[usize]) -> (Vec<HealthNotice>, Vec<SpikeNotice>, Vec<BreakingNotice>) {
        let (h, s) = (self.health.len(), self.spikes.len());
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for &i in indices {
            if i < h {
                out.0.push(self.health[i].clone());
            } else if i < h + s {
                out.1.push(self.spikes[i - h].1.clone());
            } else if let Some((_, b)) = self.breaking.get(i - h - s) {
                out.2.push(b.clone());
            }
        }
        out
    }

    /// Those not in `sent`.
    fn unsent(&self, sent: &HashSet<String>) -> Vec<usize> {
        self.keys()
            .iter()
            .enumerate()
            .filter(|(_, k)| !sent.contains(*k))
            .map(|(i, _)| i)
            .collect()
    }
}

/// Outcome of one delivery pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryStats {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// The configured alerts and channels, ready to build and deliver.
#[derive(Clone)]
pub struct Alerts {
    store: Store,
    alerts: Arc<Vec<AlertConfig>>,
    channels: Arc<HashMap<String, ChannelConfig>>,
    topics: Arc<TopicSet>,
    deliverer: Deliverer,
    health: HealthSettings,
    clock: Clock,
}

impl Alerts {
    pub fn new(config: &Config, store: Store, topics: Arc<TopicSet>) -> Result<Self, DeliverError> {
        let clock = store.clock();
        Ok(Self {
            store,
            alerts: Arc::new(config.alerts.clone()),
            channels: Arc::new(
                config
                    .channels
                    .iter()
                    .map(|c| (c.name.clone(), c.clone()))
                    .collect(),
            ),
            topics,
            deliverer: Deliverer::new(&config.fetch.user_agent, config.fetch.timeout)?,
            health: HealthSettings::from_config(&config.health),
            clock,
        })
    }

    pub fn alerts(&self) -> &[AlertConfig] {
        &self.alerts
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Records every alert's state (first sight = now), so that matches
    /// made from now on are covered. Call before polling.
    pub async fn register(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        for alert in self.alerts.iter() {
            self.store.alert_state(&alert.name, now).await?;
        }
        Ok(())
    }

    /// The alert's topics, without the `feed-health` pseudo-topic.
    fn topics_of(alert: &AlertConfig) -> Vec<String> {
        alert
            .topics
            .iter()
            .filter(|t| *t != FEED_HEALTH)
            .cloned()
            .collect()
    }

    /// The topics whose matches the alert sends: a spike or story alert
    /// sends its notices instead.
    fn match_topics(alert: &AlertConfig) -> Vec<String> {
        match alert.trigger {
            Trigger::Matches => Self::topics_of(alert),
            Trigger::Spike(_) | Trigger::Story(_) => Vec::new(),
        }
    }

    /// The notices due now: feed health if the alert subscribes to it, and
    /// its trigger's. `observe` records spike episodes as they begin and
    /// end (a preview does not: it shows a spike that would begin now as
    /// a notice of its own).
    async fn notices(
        &self,
        alert: &AlertConfig,
        state: AlertState,
        now: DateTime<Utc>,
        observe: bool,
    ) -> Result<Notices, StoreError> {
        let mut notices = Notices::default();
        if alert.topics.iter().any(|t| t == FEED_HEALTH) {
            notices.health = health::notices(&self.store.feed_health().await?, now, &self.health);
        }
        match alert.trigger {
            Trigger::Matches => {}
            Trigger::Spike(rule) => {
                let fresh = self.observe_spikes(alert, &rule, now, observe).await?;
                let since = state.created_at.max(now - SPIKE_NOTICE_HORIZON);
                for episode in self.store.spike_episodes(Some(&alert.name), None, since).await? {
                    match serde_json::from_str::<SpikeNotice>(&episode.notice) {
                        Ok(notice) => notices.spikes.push((format!("spike:{}", episode.id), notice)),
                        Err(e) => {
                            tracing::warn!(alert = %alert.name, episode = episode.id, error = %e, "unreadable spike notice")
                        }
                    }
                }
                notices
                    .spikes
                    .extend(fresh.into_iter().map(|n| (format!("spike:new:{}", n.topic), n)));
            }
            Trigger::Story(rule) => notices.breaking = self.breaking(alert, &rule, state, now).await?,
        }
        Ok(notices)
    }

    /// Judges each topic of a spike alert now; with `record`, opens,
    /// continues and closes its episodes in the store (the notice of a new
    /// episode is stored with it) and returns nothing, else returns the
    /// notices of the spikes that would begin now.
    async fn observe_spikes(
        &self,
        alert: &AlertConfig,
        rule: &SpikeRule,
        now: DateTime<Utc>,
        record: bool,
    ) -> Result<Vec<SpikeNotice>, StoreError> {
        let topics = Self::topics_of(alert);
        let buckets = rule.buckets();
        let mut rows: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
        for (topic, bucket, count) in self.store.topic_volume(&topics, now, buckets).await? {
            rows.entry(topic).or_default().push((bucket, count));
        }
        let open: HashMap<String, (i64, DateTime<Utc>)> = self
            .store
            .open_spikes(&alert.name)
            .await?
            .into_iter()
            .map(|e| (e.topic, (e.id, e.last_spike_at)))
            .collect();
        let mut fresh = Vec::new();
        for topic in &topics {
            let series = triggers::series(&buckets, rows.get(topic).map_or(&[][..], Vec::as_slice));
            let verdict = triggers::judge_series(rule, &series);
            let episode = open.get(topic).copied();
            let id = episode.map_or(0, |(id, _)| id);
            let count = verdict.count as i64;
            match triggers::episode_step(episode.map(|(_, at)| at), verdict.spiking, now, rule.window) {
                EpisodeStep::Open => {
                    let notice = self
                        .spike_notice(alert, topic, rule, &series, &verdict, now)
                        .await?;
                    if !record {
                        fresh.push(notice);
                        continue;
                    }
                    let json = serde_json::to_string(&notice).expect("notices serialise");
                    if self
                        .store
                        .open_spike(&alert.name, topic, now, count, &json)
                        .await?
                    {
                        tracing::info!(alert = %alert.name, topic, count, threshold = verdict.threshold, "spike began");
                    }
                }
                EpisodeStep::Continue if record => {
                    self.store.advance_spike(id, count, Some(now), None).await?;
                }
                EpisodeStep::Close if record => {
                    self.store.advance_spike(id, count, None, Some(now)).await?;
                    tracing::info!(alert = %alert.name, topic, count, "spike ended");
                }
                EpisodeStep::Continue | EpisodeStep::Close | EpisodeStep::Hold | EpisodeStep::Quiet => {}
            }
        }
        if record {
            // Topics the alert no longer lists end their episodes.
            for (topic, (id, _)) in &open {
                if !topics.contains(topic) {
                    self.store.advance_spike(*id, 0, None, Some(now)).await?;
                }
            }
        }
        Ok(fresh)
    }

    /// A spike's notice: its numbers, and the window's top outlets,
    /// languages and stories.
    async fn spike_notice(
        &self,
        alert: &AlertConfig,
        topic: &str,
        rule: &SpikeRule,
        series: &[u64],
        verdict: &Verdict,
        now: DateTime<Utc>,
    ) -> Result<SpikeNotice, StoreError> {
        let tz = alert.schedule.timezone();
        let local = |t: DateTime<Utc>| {
            use chrono::SubsecRound;
            t.trunc_subsecs(0).with_timezone(&tz).to_rfc3339()
        };
        let start = now - chrono::Duration::from_std(rule.window).unwrap_or_default();
        // The window is (start, now]; the store's ranges are [since, until).
        let (since, until) = (
            start + chrono::Duration::seconds(1),
            now + chrono::Duration::seconds(1),
        );
        let topics = [topic.to_string()];
        let stories = self
            .store
            .top_stories(&topics, since, Some(until), u32::MAX)
            .await?;
        let counted = |rows: Vec<(String, i64)>| -> Vec<Counted> {
            rows.into_iter()
                .take(SPIKE_TOP as usize)
                .map(|(name, n)| Counted {
                    name,
                    items: n.max(0) as u64,
                })
                .collect()
        };
        Ok(SpikeNotice {
            topic: topic.to_string(),
            window_start: local(start),
            window_end: local(now),
            count: verdict.count,
            stories: stories.len() as u64,
            baseline_mean: verdict.mean,
            baseline_stdev: verdict.stdev,
            ratio: verdict.ratio,
            top_outlets: counted(
                self.store
                    .top_outlets(&topics, since, Some(until), SPIKE_TOP)
                    .await?,
            ),
            top_stories: stories
                .iter()
                .take(SPIKE_TOP as usize)
                .map(|s| StoryCount {
                    story_id: s.id,
                    headline: s.headline.clone(),
                    items: s.topic_items.max(0) as u64,
                })
                .collect(),
            threshold: verdict.threshold,
            window_seconds: rule.window.as_secs(),
            baseline_seconds: rule.baseline.as_secs(),
            baseline_counts: series.iter().skip(1).rev().copied().collect(),
            languages: counted(self.store.languages(&topics, since, Some(until)).await?),
        })
    }

    /// The stories breaking now among the alert's topics' matches since it
    /// was first seen.
    async fn breaking(
        &self,
        alert: &AlertConfig,
        rule: &StoryRule,
        state: AlertState,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, BreakingNotice)>, StoreError> {
        let horizon = chrono::Duration::from_std(triggers::STORY_HORIZON).unwrap_or_default();
        let copies: Vec<triggers::Copy> = self
            .store
            .story_copies(&Self::topics_of(alert), now - horizon, state.created_at)
            .await?
            .into_iter()
            .map(|c| triggers::Copy {
                story_id: c.story_id,
                headline: c.headline,
                outlet: c.outlet,
                at: c.at,
            })
            .collect();
        let tz = alert.schedule.timezone();
        Ok(triggers::breaking(rule, &copies)
            .into_iter()
            .map(|b| {
                (
                    format!("story:{}", b.story_id),
                    BreakingNotice {
                        story_id: b.story_id,
                        headline: b.headline,
                        outlet_count: b.outlets.len(),
                        outlets: b.outlets,
                        first_seen: {
                            use chrono::SubsecRound;
                            b.first_seen.trunc_subsecs(0).with_timezone(&tz).to_rfc3339()
                        },
                        within_seconds: b.within_seconds,
                    },
                )
            })
            .collect())
    }

    /// The end of the period to send now, if the alert is due.
    async fn due_cut(
        &self,
        alert: &AlertConfig,
        state: AlertState,
        notices: &Notices,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        match alert.schedule {
            Schedule::Immediate { window } => {
                // Due once the oldest unsent match has waited out the
                // window, or a notice is unsent.
                let waited = now - chrono::Duration::from_std(window).unwrap_or_default();
                let topics = Self::match_topics(alert);
                for channel in &alert.channels {
                    let pending = self
                        .store
                        .pending_matches(&alert.name, channel, &topics, state.created_at, waited)
                        .await?;
                    let sent = self.store.sent_notices(&alert.name, channel).await?;
                    if !pending.is_empty() || !notices.unsent(&sent).is_empty() {
                        return Ok(Some(now));
                    }
                }
                Ok(None)
            }
            schedule => Ok(schedule
                .last_boundary(now)
                .filter(|boundary| *boundary > state.last_cut)),
        }
    }

    /// Builds the digests of every due alert; returns their ids.
    pub async fn build_due(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut created = Vec::new();
        for alert in self.alerts.iter() {
            let state = self.store.alert_state(&alert.name, now).await?;
            let notices = self.notices(alert, state, now, true).await?;
            if let Some(cut) = self.due_cut(alert, state, &notices, now).await? {
                created.extend(self.build(alert, state, &notices, cut, now).await?);
            }
        }
        Ok(created)
    }

    /// Builds `alert`'s digests for the period ending at `now`, whatever its
    /// schedule says (`digest send --now`).
    pub async fn build_now(
        &self,
        alert: &AlertConfig,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let state = self.store.alert_state(&alert.name, now).await?;
        let notices = self.notices(alert, state, now, true).await?;
        self.build(alert, state, &notices, now, now).await
    }

    async fn build(
        &self,
        alert: &AlertConfig,
        state: AlertState,
        notices: &Notices,
        cut: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let keys = notices.keys();
        let mut build = |channel: &str, pending: &[PendingMatch], unsent: &[usize]| {
            if pending.is_empty() && unsent.is_empty() && !alert.send_empty {
                return None;
            }
            let unsent = notices.select(unsent);
            let digest = self.assemble(alert, channel, (state.last_cut, cut), now, pending, unsent);
            Some(NewDigest {
                id: digest.id.clone(),
                content: serde_json::to_string(&digest).expect("digests serialise"),
            })
        };
        let created = self
            .store
            .create_digests(
                &DigestBatch {
                    alert: &alert.name,
                    channels: &alert.channels,
                    topics: &Self::match_topics(alert),
                    notices: &keys,
                    state,
                    cut,
                    now,
                },
                &mut build,
            )
            .await?;
        if !created.is_empty() {
            tracing::info!(alert = %alert.name, digests = created.len(), "digests built");
        }
        Ok(created)
    }

    fn assemble(
        &self,
        alert: &AlertConfig,
        channel: &str,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        now: DateTime<Utc>,
        pending: &[PendingMatch],
        (health, spikes, breaking): (Vec<HealthNotice>, Vec<SpikeNotice>, Vec<BreakingNotice>),
    ) -> Digest {
        let ctx = BuildContext {
            id: digest::digest_id(&alert.name, channel, end, now),
            alert: &alert.name,
            channel,
            period_start: start,
            period_end: end,
            tz: alert.schedule.timezone(),
            topics: &self.topics,
            topic_order: &alert.topics,
            max_per_topic: alert.max_per_topic,
        };
        let mut digest = digest::build(&ctx, pending);
        digest.health = health;
        digest.spikes = spikes;
        digest.breaking = breaking;
        digest
    }

    /// What each channel of `alert` would receive if its digest were cut
    /// now. Writes nothing (an alert not seen yet is not recorded), so a
    /// read-only store will do.
    pub async fn preview(&self, alert: &AlertConfig, now: DateTime<Utc>) -> Result<Vec<Digest>, StoreError> {
        let state = self.store.peek_alert_state(&alert.name, now).await?;
        let topics = Self::match_topics(alert);
        let notices = self.notices(alert, state, now, false).await?;
        let mut out = Vec::new();
        for channel in &alert.channels {
            let pending = self
                .store
                .pending_matches(&alert.name, channel, &topics, state.created_at, now)
                .await?;
            let sent = self.store.sent_notices(&alert.name, channel).await?;
            let unsent = notices.select(&notices.unsent(&sent));
            out.push(self.assemble(alert, channel, (state.last_cut, now), now, &pending, unsent));
        }
        Ok(out)
    }

    /// Delivers pending digests that are due (all pending ones of
    /// `only_alert`, backoff or not, when given), each channel on its own
    /// task.
    pub async fn deliver_due(
        &self,
        now: DateTime<Utc>,
        only_alert: Option<&str>,
    ) -> Result<DeliveryStats, StoreError> {
        let horizon = if only_alert.is_some() {
            now + chrono::Duration::days(3650)
        } else {
            now
        };
        let mut by_channel: HashMap<String, Vec<DigestRecord>> = HashMap::new();
        for record in self.store.due_digests(horizon, only_alert).await? {
            by_channel.entry(record.channel.clone()).or_default().push(record);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (channel, records) in by_channel {
            let this = self.clone();
            tasks.spawn(async move { this.deliver_channel(&channel, records).await });
        }
        let mut stats = DeliveryStats::default();
        while let Some(joined) = tasks.join_next().await {
            let s = joined.expect("delivery tasks do not panic")?;
            stats.delivered += s.delivered;
            stats.retrying += s.retrying;
            stats.failed += s.failed;
        }
        Ok(stats)
    }

    async fn deliver_channel(
        &self,
        channel: &str,
        records: Vec<DigestRecord>,
    ) -> Result<DeliveryStats, StoreError> {
        let mut stats = DeliveryStats::default();
        for record in records {
            let max_attempts = self
                .alerts
                .iter()
                .find(|a| a.name == record.alert)
                .map_or(10, |a| a.max_attempts);
            let result = match (
                self.channels.get(channel),
                serde_json::from_str::<Digest>(&record.content),
            ) {
                (Some(config), Ok(digest)) => self
                    .deliverer
                    .deliver(config, &digest)
                    .await
                    .map_err(|e| error_chain(&e)),
                (None, _) => Err(format!("channel {channel:?} is no longer configured")),
                (_, Err(e)) => Err(format!("stored digest is unreadable: {e}")),
            };
            let now = self.clock.now();
            match result {
                Ok(()) => {
                    self.store.mark_delivered(&record.id, now).await?;
                    tracing::info!(digest = %record.id, alert = %record.alert, channel, "digest delivered");
                    stats.delivered += 1;
                }
                Err(error) => {
                    let attempts = record.attempts as u32 + 1;
                    let failed = attempts >= max_attempts;
                    let retry_at =
                        now + chrono::Duration::from_std(backoff(&record.id, attempts)).unwrap_or_default();
                    self.store
                        .mark_attempt_failed(&record.id, &error, retry_at, failed)
                        .await?;
                    if failed {
                        tracing::error!(digest = %record.id, channel, attempts, %error, "digest delivery failed for good");
                        stats.failed += 1;
                    } else {
                        tracing::warn!(digest = %record.id, channel, attempts, %error, retry_at = %retry_at, "digest delivery failed; will retry");
                        stats.retrying += 1;
                    }
                }
            }
        }
        Ok(stats)
    }

    /// Builds and delivers every [`TICK`] until `shutdown`.
    pub async fn run(&self, shutdown: &CancellationToken) {
        loop {
            let now = self.clock.now();
            if let Err(e) = self.build_due(now).await {
                tracing::error!(error = %error_chain(&e), "cannot build digests");
            }
            if let Err(e) = self.deliver_due(now, None).await {
                tracing::error!(error = %error_chain(&e), "cannot deliver digests");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

/// Exponential backoff with deterministic jitter (±20%, from the digest id
/// and attempt, so retries of different digests spread out).
fn backoff(id: &str, attempt: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let spread = id.bytes().fold(u64::from(attempt), |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    }) % 41;
    base.mul_f64(0.8 + spread as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let secs = |a| backoff("fw-x", a).as_secs_f64();
        assert!((24.0..=36.0).contains(&secs(1)), "{}", secs(1));
        assert!((48.0..=72.0).contains(&secs(2)), "{}", secs(2));
        assert!(secs(30) <= 3600.0 * 1.2);
        assert!(secs(30) >= 3600.0 * 0.8);
    }
}
