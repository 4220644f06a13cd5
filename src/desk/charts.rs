//! The desk's small charts, as inline SVG (pure): a topic's sparkline and
//! the baseline band of its volume chart (the chart itself is the
//! report's, [`crate::archive::report::chart`]). Only numbers and our own
//! labels go in; presentation attributes only, no `style`, so they render
//! under the desk's Content-Security-Policy.

use std::fmt::Write;

use crate::archive::report::Band;

/// Sparkline size in CSS pixels.
const SPARK_W: f64 = 120.0;
const SPARK_H: f64 = 24.0;

/// One bar per count, scaled to the largest, an empty bucket a dot on the
/// base line so gaps show; labelled for screen readers with the total and
/// the peak over `span` (e.g. `30 days`).
pub fn sparkline(counts: &[i64], span: &str) -> String {
    let total: i64 = counts.iter().sum();
    let peak = counts.iter().copied().max().unwrap_or(0);
    let mut svg = format!(
        "<svg class=\"spark\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {SPARK_W} {SPARK_H}\" \
         width=\"{SPARK_W}\" height=\"{SPARK_H}\" role=\"img\" aria-label=\"{total} items in {span}, at most {peak} a day\">"
    );
    if counts.is_empty() {
        svg.push_str("</svg>");
        return svg;
    }
    let slot = SPARK_W / counts.len() as f64;
    let scale = (SPARK_H - 2.0) / peak.max(1) as f64;
    for (i, &n) in counts.iter().enumerate() {
        let x = i as f64 * slot;
        if n <= 0 {
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"1\" fill=\"#b8c2cc\"/>",
                x + slot * 0.1,
                SPARK_H - 1.0,
                (slot * 0.8).max(0.5)
            );
            continue;
        }
        let h = (n as f64 * scale).max(1.0);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#2f5f8f\"/>",
            x + slot * 0.1,
            SPARK_H - h,
            (slot * 0.8).max(0.5)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The usual range of a series of bucket counts: from its lower to its
/// upper quartile, with its median in the middle (robust: a spike does not
/// move it much). `None` for fewer than four buckets, too few to say what
/// is usual.
pub fn baseline(counts: &[i64]) -> Option<Band> {
    if counts.len() < 4 {
        return None;
    }
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let quantile = |q: f64| {
        // Linear interpolation between closest ranks.
        let pos = q * (sorted.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] as f64 + (sorted[hi] - sorted[lo]) as f64 * (pos - lo as f64)
    };
    Some(Band {
        low: quantile(0.25),
        middle: quantile(0.5),
        high: quantile(0.75),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(svg: &str) -> Vec<f64> {
        svg.split("height=\"")
            .skip(2)
            .map(|h| h.split('"').next().unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn sparklines_scale_to_the_peak_and_show_gaps() {
        let svg = sparkline(&[0, 5, 10], "3 days");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(
            svg.contains("aria-label=\"15 items in 3 days, at most 10 a day\""),
            "{svg}"
        );
        assert_eq!(bars(&svg), [1.0, 11.0, 22.0], "{svg}");
        assert!(!svg.contains("style"), "no style attributes (CSP)");
        // All zero: dots only, no division by zero.
        assert_eq!(bars(&sparkline(&[0, 0], "2 days")), [1.0, 1.0]);
        assert_eq!(sparkline(&[], "0 days").matches("<rect").count(), 0);
        // A tiny count next to a huge one is still visible.
        assert_eq!(bars(&sparkline(&[1, 100_000], "2 days"))[0], 1.0);
    }

    #[test]
    fn the_baseline_is_the_middle_half_and_ignores_a_spike() {
        assert_eq!(baseline(&[1, 2, 3]), None);
        assert_eq!(
            baseline(&[4, 1, 3, 2, 5]),
            Some(Band {
                low: 2.0,
                middle: 3.0,
                high: 4.0
            })
        );
        let quiet = baseline(&[10, 12, 11, 9, 10, 11, 10]).unwrap();
        let spiked = baseline(&[10, 12, 11, 9, 10, 11, 900]).unwrap();
        assert!(spiked.high - quiet.high <= 1.0, "{quiet:?} {spiked:?}");
        assert!(
            (spiked.middle - quiet.middle).abs() <= 1.0,
            "{quiet:?} {spiked:?}"
        );
        let band = baseline(&[0, 0, 0, 1]).unwrap();
        assert_eq!((band.low, band.middle, band.high), (0.0, 0.0, 0.25));
    }
}
