//! Where "now" comes from: the one injected clock. Everything outside
//! `cli` that needs the time asks a [`Clock`] (the store, pipeline,
//! daemon, alerts, API); policies take `now` as an argument.

use chrono::{DateTime, Utc};

/// Where "now" comes from. `Tokio` follows the tokio clock from a
/// fixed start, so a test with a paused runtime drives the whole loop
/// through simulated hours.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    #[default]
    System,
    Tokio {
        wall: DateTime<Utc>,
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that starts at `wall` and advances with tokio's clock.
    pub fn tokio(wall: DateTime<Utc>) -> Self {
        Clock::Tokio {
            wall,
            start: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Tokio { wall, start } => {
                *wall + chrono::Duration::from_std(start.elapsed()).unwrap_or_default()
            }
        }
    }
}
