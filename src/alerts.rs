//! Alerts: decides when each alert's digest is due, builds digests through
//! the store's outbox (one transaction records each digest with the matches
//! it covers), then delivers pending digests, each channel on its own task,
//! with exponential backoff. A digest is marked delivered only after its
//! channel accepted it; a retry sends the same digest with the same id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{AlertConfig, ChannelConfig, Config, FEED_HEALTH};
use crate::deliver::{DeliverError, Deliverer};
use crate::digest::health::{self, HealthNotice, HealthSettings};
use crate::digest::schedule::Schedule;
use crate::digest::{self, BuildContext, Digest};
use crate::error_chain;
use crate::store::{AlertState, DigestBatch, DigestRecord, NewDigest, PendingMatch, Store, StoreError};
use crate::topics::TopicSet;

/// First retry delay; doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How often the daemon checks for due alerts and deliveries.
const TICK: Duration = Duration::from_secs(15);

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
    fn match_topics(alert: &AlertConfig) -> Vec<String> {
        alert
            .topics
            .iter()
            .filter(|t| *t != FEED_HEALTH)
            .cloned()
            .collect()
    }

    /// Feed-health notices due now, if the alert subscribes to them.
    async fn notices(
        &self,
        alert: &AlertConfig,
        now: DateTime<Utc>,
    ) -> Result<Vec<HealthNotice>, StoreError> {
        if !alert.topics.iter().any(|t| t == FEED_HEALTH) {
            return Ok(Vec::new());
        }
        Ok(health::notices(
            &self.store.feed_health().await?,
            now,
            &self.health,
        ))
    }

    /// The end of the period to send now, if the alert is due.
    async fn due_cut(
        &self,
        alert: &AlertConfig,
        state: AlertState,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        match alert.schedule {
            Schedule::Immediate { window } => {
                // Due once the oldest unsent match has waited out the window.
                let waited = now - chrono::Duration::from_std(window).unwrap_or_default();
                let topics = Self::match_topics(alert);
                let notices = self.notices(alert, now).await?;
                for channel in &alert.channels {
                    let pending = self
                        .store
                        .pending_matches(&alert.name, channel, &topics, state.created_at, waited)
                        .await?;
                    let sent = self.store.sent_notices(&alert.name, channel).await?;
                    if !pending.is_empty() || notices.iter().any(|n| !sent.contains(&n.key)) {
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
            if let Some(cut) = self.due_cut(alert, state, now).await? {
                created.extend(self.build(alert, state, cut, now).await?);
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
        self.build(alert, state, now, now).await
    }

    async fn build(
        &self,
        alert: &AlertConfig,
        state: AlertState,
        cut: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let notices = self.notices(alert, now).await?;
        let keys: Vec<String> = notices.iter().map(|n| n.key.clone()).collect();
        let mut build = |channel: &str, pending: &[PendingMatch], unsent: &[usize]| {
            if pending.is_empty() && unsent.is_empty() && !alert.send_empty {
                return None;
            }
            let unsent: Vec<HealthNotice> = unsent.iter().map(|&i| notices[i].clone()).collect();
            let digest = self.assemble(alert, channel, (state.last_cut, cut), now, pending, &unsent);
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
        notices: &[HealthNotice],
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
        digest.health = notices.to_vec();
        digest
    }

    /// What each channel of `alert` would receive if its digest were cut
    /// now. Writes nothing (an alert not seen yet is not recorded), so a
    /// read-only store will do.
    pub async fn preview(&self, alert: &AlertConfig, now: DateTime<Utc>) -> Result<Vec<Digest>, StoreError> {
        let state = self.store.peek_alert_state(&alert.name, now).await?;
        let topics = Self::match_topics(alert);
        let notices = self.notices(alert, now).await?;
        let mut out = Vec::new();
        for channel in &alert.channels {
            let pending = self
                .store
                .pending_matches(&alert.name, channel, &topics, state.created_at, now)
                .await?;
            let sent = self.store.sent_notices(&alert.name, channel).await?;
            let unsent: Vec<HealthNotice> = notices
                .iter()
                .filter(|n| !sent.contains(&n.key))
                .cloned()
                .collect();
            out.push(self.assemble(alert, channel, (state.last_cut, now), now, &pending, &unsent));
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
