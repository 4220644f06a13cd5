//! `[[channel]]` and `[[alert]]`: where digests go and when.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::digest::schedule::Schedule;
use crate::triggers::{SpikeRule, StoryRule};

/// The pseudo-topic an alert subscribes to for feed-health notices.
pub const FEED_HEALTH: &str = "feed-health";

/// A secret read from a file; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A webhook URL: for Slack-style hooks the URL is the credential, so
/// `Debug` and `Display` show only its scheme and host
/// ([`redact::webhook`](crate::redact::webhook)).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn new(url: impl Into<String>) -> Self {
        WebhookUrl(url.into())
    }

    /// The real URL, for the request only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::redact::webhook(&self.0))
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({self})")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption (local relays and tests only).
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Json,
    Slack,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        username: Option<String>,
        password: Option<Secret>,
        from: String,
        to: Vec<String>,
    },
    Webhook {
        url: WebhookUrl,
        format: WebhookFormat,
        /// HMAC-SHA256 key for `X-Feedwatch-Signature`.
        secret: Option<Secret>,
    },
    /// One JSON document per digest appended to a file.
    JsonLines { path: PathBuf },
    /// One `.eml` file per digest in a directory.
    EmlDir { dir: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    pub name: String,
    /// Topic names, and/or [`FEED_HEALTH`].
    pub topics: Vec<String>,
    pub schedule: Schedule,
    pub channels: Vec<String>,
    /// Send a digest even when nothing matched.
    pub send_empty: bool,
    /// Delivery attempts before a digest is marked failed.
    pub max_attempts: u32,
    /// Most stories listed per topic in a digest (0: all); the rest are
    /// counted ("and N more stories").
    pub max_per_topic: usize,
    /// What makes the alert send: new matches, a volume spike or a
    /// breaking story.
    pub trigger: Trigger,
}

/// `[[alert]] trigger`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Trigger {
    /// New matches of the alert's topics (the default).
    #[default]
    Matches,
    /// A topic's volume in the last `window` far above its baseline.
    Spike(SpikeRule),
    /// A story carried by `min_outlets` outlets within `within`.
    Story(StoryRule),
}

impl Trigger {
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::Matches => "matches",
            Trigger::Spike(_) => "spike",
            Trigger::Story(_) => "story",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChannel {
    name: Spanned<String>,
    kind: Spanned<String>,
    host: Option<String>,
    port: Option<u16>,
    tls: Option<String>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    from: Option<String>,
    to: Option<Vec<String>>,
    url: Option<String>,
    format: Option<String>,
    secret_file: Option<PathBuf>,
    path: Option<PathBuf>,
    dir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlert {
    name: Spanned<String>,
    topics: Spanned<Vec<String>>,
    schedule: Spanned<String>,
    channels: Spanned<Vec<String>>,
    #[serde(default)]
    send_empty: bool,
    #[serde(default = "default_attempts")]
    max_attempts: u32,
    #[serde(default = "default_per_topic")]
    max_per_topic: usize,
    trigger: Option<Spanned<String>>,
    window: Option<Spanned<String>>,
    baseline: Option<Spanned<String>>,
    min_items: Option<Spanned<i64>>,
    sigma: Option<Spanned<f64>>,
    factor: Option<Spanned<f64>>,
    min_outlets: Option<Spanned<i64>>,
    within: Option<Spanned<String>>,
}

fn default_attempts() -> u32 {
    10
}

/// Stories listed per topic in a digest unless `max_per_topic` says.
pub const DEFAULT_PER_TOPIC: usize = 20;

fn default_per_topic() -> usize {
    DEFAULT_PER_TOPIC
}

/// A validation failure: span (for the line), key, message.
pub(super) type Invalid = (Option<Range<usize>>, String, String);

pub(super) fn channels(raw: Vec<RawChannel>, base: &Path) -> Result<Vec<ChannelConfig>, Invalid> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, c) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("channel[{i}].{k}");
        let at = Some(c.kind.span());
        let name = c.name.get_ref().trim().to_string();
        if name.is_empty() || !seen.insert(name.clone()) {
            let why = if name.is_empty() {
                "must not be empty".to_string()
            } else {
                format!("duplicate channel name {name:?}")
            };
            return Err((Some(c.name.span()), key("name"), why));
        }
        let kind_name = c.kind.get_ref().as_str();
        let missing = |k: &str| (at.clone(), key(k), format!("a {kind_name} channel needs `{k}`"));
        // Keys that belong to another kind are mistakes, not silently ignored.
        let allowed: &[&str] = match kind_name {
            "smtp" => &["host", "port", "tls", "username", "password_file", "from", "to"],
            "webhook" => &["url", "format", "secret_file"],
            "file" => &["path", "dir"],
            other => {
                return Err((
                    at,
                    key("kind"),
                    format!("unknown channel kind {other:?}; use smtp, webhook or file"),
                ));
            }
        };
        let present = [
            ("host", c.host.is_some()),
            ("port", c.port.is_some()),
            ("tls", c.tls.is_some()),
            ("username", c.username.is_some()),
            ("password_file", c.password_file.is_some()),
            ("from", c.from.is_some()),
            ("to", c.to.is_some()),
            ("url", c.url.is_some()),
            ("format", c.format.is_some()),
            ("secret_file", c.secret_file.is_some()),
            ("path", c.path.is_some()),
            ("dir", c.dir.is_some()),
        ];
        if let Some((k, _)) = present.iter().find(|(k, set)| *set && !allowed.contains(k)) {
            return Err((
                at,
                key(k),
                format!("`{k}` does not apply to a {kind_name} channel"),
            ));
        }
        let read_secret = |file: &Option<PathBuf>, k: &str| -> Result<Option<Secret>, Invalid> {
            file.as_ref()
                .map(|f| {
                    let path = base.join(f);
                    std::fs::read_to_string(&path)
                        .map(|s| Secret(s.trim_end_matches(['\r', '\n']).to_string()))
                        .map_err(|e| (at.clone(), key(k), format!("cannot read {}: {e}", path.display())))
                })
                .transpose()
        };
        let kind = match kind_name {
            "smtp" => {
                let tls = match c.tls.as_deref().unwrap_or("starttls") {
                    "starttls" => SmtpTls::Starttls,
                    "tls" => SmtpTls::Tls,
                    "none" => SmtpTls::None,
                    other => return Err((at, key("tls"), format!("{other:?} is not starttls, tls or none"))),
                };
                let to = c.to.ok_or_else(|| missing("to"))?;
                if to.is_empty() {
                    return Err((at, key("to"), "needs at least one recipient".into()));
                }
                let from = c.from.ok_or_else(|| missing("from"))?;
                for address in to.iter().chain([&from]) {
                    address.parse::<lettre::message::Mailbox>().map_err(|e| {
                        (
                            at.clone(),
                            key("to/from"),
                            format!("{address:?} is not an e-mail address ({e})"),
                        )
                    })?;
                }
                ChannelKind::Smtp {
                    host: c.host.ok_or_else(|| missing("host"))?,
                    port: c.port.unwrap_or(match tls {
                        SmtpTls::Tls => 465,
                        SmtpTls::Starttls => 587,
                        SmtpTls::None => 25,
                    }),
                    tls,
                    username: c.username,
                    password: read_secret(&c.password_file, "password_file")?,
                    from,
                    to,
                }
            }
            "webhook" => {
                let url = c.url.ok_or_else(|| missing("url"))?;
                // The URL may be the credential: errors show its host only.
                match url::Url::parse(&url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    Ok(_) => {
                        let shown = crate::redact::webhook(&url);
                        return Err((at, key("url"), format!("{shown} is not an http(s) URL")));
                    }
                    Err(e) => return Err((at, key("url"), format!("is not a valid URL ({e})"))),
                }
                let format = match c.format.as_deref().unwrap_or("json") {
                    "json" => WebhookFormat::Json,
                    "slack" => WebhookFormat::Slack,
                    other => return Err((at, key("format"), format!("{other:?} is not json or slack"))),
                };
                ChannelKind::Webhook {
                    url: WebhookUrl(url),
                    format,
                    secret: read_secret(&c.secret_file, "secret_file")?,
                }
            }
            _ => match (c.path, c.dir) {
                (Some(path), None) => ChannelKind::JsonLines {
                    path: base.join(path),
                },
                (None, Some(dir)) => ChannelKind::EmlDir { dir: base.join(dir) },
                _ => {
                    return Err((
                        at,
                        key("path"),
                        "a file channel needs either `path` (JSON Lines) or `dir` (.eml files)".into(),
                    ))
                }
            },
        };
        out.push(ChannelConfig { name, kind });
    }
    Ok(out)
}

pub(super) fn alerts(
    raw: Vec<RawAlert>,
    topic_names: &HashSet<&str>,
    channels: &[ChannelConfig],
) -> Result<Vec<AlertConfig>, Invalid> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, a) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("alert[{i}].{k}");
        let name = a.name.get_ref().trim().to_string();
        if name.is_empty() || !seen.insert(name.clone()) {
            let why = if name.is_empty() {
                "must not be empty".to_string()
            } else {
                format!("duplicate alert name {name:?}")
            };
            return Err((Some(a.name.span()), key("name"), why));
        }
        if a.topics.get_ref().is_empty() {
            return Err((
                Some(a.topics.span()),
                key("topics"),
                "needs at least one topic".into(),
            ));
        }
        for topic in a.topics.get_ref() {
            if topic != FEED_HEALTH && !topic_names.contains(topic.as_str()) {
                return Err((
                    Some(a.topics.span()),
                    key("topics"),
                    format!("no topic named {topic:?} (topics are [[topic]] names, or \"{FEED_HEALTH}\")"),
                ));
            }
        }
        if a.channels.get_ref().is_empty() {
            return Err((
                Some(a.channels.span()),
                key("channels"),
                "needs at least one channel".into(),
            ));
        }
        for channel in a.channels.get_ref() {
            if !channels.iter().any(|c| &c.name == channel) {
                return Err((
                    Some(a.channels.span()),
                    key("channels"),
                    format!("no channel named {channel:?}"),
                ));
            }
        }
        let schedule = a
            .schedule
            .get_ref()
            .parse::<Schedule>()
            .map_err(|e| (Some(a.schedule.span()), key("schedule"), e.to_string()))?;
        if a.max_attempts == 0 {
            return Err((
                Some(a.name.span()),
                key("max_attempts"),
                "must be at least 1".into(),
            ));
        }
        let trigger = trigger(&a, i)?;
        if !matches!(trigger, Trigger::Matches) && a.topics.get_ref().iter().all(|t| t == FEED_HEALTH) {
            return Err((
                Some(a.topics.span()),
                key("topics"),
                format!("a {} alert needs at least one [[topic]]", trigger.name()),
            ));
        }
        out.push(AlertConfig {
            name,
            topics: a.topics.into_inner(),
            schedule,
            channels: a.channels.into_inner(),
            send_empty: a.send_empty,
            max_attempts: a.max_attempts,
            max_per_topic: a.max_per_topic,
            trigger,
        });
    }
    Ok(out)
}

/// The alert's `trigger` and the keys that go with it: each key checked
/// against its trigger and its range, the first mistake named with its line.
fn trigger(a: &RawAlert, i: usize) -> Result<Trigger, Invalid> {
    let key = |k: &str| format!("alert[{i}].{k}");
    let kind = a.trigger.as_ref().map_or("matches", |t| t.get_ref().as_str());
    let spike_keys = [
        ("window", a.window.as_ref().map(Spanned::span)),
        ("baseline", a.baseline.as_ref().map(Spanned::span)),
        ("min_items", a.min_items.as_ref().map(Spanned::span)),
        ("sigma", a.sigma.as_ref().map(Spanned::span)),
        ("factor", a.factor.as_ref().map(Spanned::span)),
    ];
    let story_keys = [
        ("min_outlets", a.min_outlets.as_ref().map(Spanned::span)),
        ("within", a.within.as_ref().map(Spanned::span)),
    ];
    let allowed: &[&str] = match kind {
        "matches" => &[],
        "spike" => &["window", "baseline", "min_items", "sigma", "factor"],
        "story" => &["min_outlets", "within"],
        other => {
            return Err((
                a.trigger.as_ref().map(Spanned::span),
                key("trigger"),
                format!("{other:?} is not matches, spike or story"),
            ))
        }
    };
    if let Some((k, span)) = spike_keys
        .iter()
        .chain(&story_keys)
        .find(|(k, span)| span.is_some() && !allowed.contains(k))
    {
        let owner = if story_keys.iter().any(|(s, _)| s == k) {
            "story"
        } else {
            "spike"
        };
        return Err((
            span.clone(),
            key(k),
            format!("`{k}` applies to trigger = \"{owner}\" alerts, not to a {kind} alert"),
        ));
    }
    let duration =
        |value: &Option<Spanned<String>>, k: &str, default: Duration| -> Result<Duration, Invalid> {
            let Some(value) = value else { return Ok(default) };
            match humantime::parse_duration(value.get_ref()) {
                Ok(d) if d.as_secs() >= 60 => Ok(d),
                Ok(_) => Err((Some(value.span()), key(k), "must be at least 1m".into())),
                Err(_) => Err((
                    Some(value.span()),
                    key(k),
                    format!(
                        "{:?} is not a duration (e.g. \"30m\", \"1h\", \"14d\")",
                        value.get_ref()
                    ),
                )),
            }
        };
    let count = |value: &Option<Spanned<i64>>, k: &str, default: u32, min: i64| -> Result<u32, Invalid> {
        let Some(value) = value else { return Ok(default) };
        match u32::try_from(*value.get_ref()) {
            Ok(n) if i64::from(n) >= min => Ok(n),
            _ => Err((
                Some(value.span()),
                key(k),
                format!("must be a whole number of at least {min}"),
            )),
        }
    };
    let number = |value: &Option<Spanned<f64>>, k: &str, default: f64, min: f64| -> Result<f64, Invalid> {
        let Some(value) = value else { return Ok(default) };
        let n = *value.get_ref();
        if n.is_finite() && n >= min && n <= 1000.0 {
            Ok(n)
        } else {
            Err((
                Some(value.span()),
                key(k),
                format!("must be a number from {min} to 1000"),
            ))
        }
    };
    Ok(match kind {
        "spike" => {
            let defaults = SpikeRule::default();
            let rule = SpikeRule {
                window: duration(&a.window, "window", defaults.window)?,
                baseline: duration(&a.baseline, "baseline", defaults.baseline)?,
                min_items: count(&a.min_items, "min_items", defaults.min_items, 1)?,
                sigma: number(&a.sigma, "sigma", defaults.sigma, 0.0)?,
                factor: number(&a.factor, "factor", defaults.factor, 1.0)?,
            };
            if rule.baseline_windows() < 2 {
                let span = a.baseline.as_ref().or(a.window.as_ref()).map(Spanned::span);
                return Err((
                    span,
                    key("baseline"),
                    "must hold at least two windows (e.g. window = \"1h\", baseline = \"14d\")".into(),
                ));
            }
            Trigger::Spike(rule)
        }
        "story" => {
            let defaults = StoryRule::default();
            Trigger::Story(StoryRule {
                min_outlets: count(&a.min_outlets, "min_outlets", defaults.min_outlets, 2)?,
                within: duration(&a.within, "within", defaults.within)?,
            })
        }
        _ => Trigger::Matches,
    })
}

pub use crate::digest::schedule::IMMEDIATE_WINDOW;
