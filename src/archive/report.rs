//! A self-contained HTML report of a topic.
