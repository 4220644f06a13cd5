//! Volume over time: counts per time bucket, topic and feed or language.
