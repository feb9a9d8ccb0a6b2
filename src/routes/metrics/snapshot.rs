//! State read at scrape time from its owners: the variant cache's tiers and the render pool.
//! Counters here are cumulative values kept by those services, exported as Prometheus counters;
//! the render pool's per-render histograms are its own and exported as they are.

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::cache::TierStats;
use crate::delivery::Delivery;

pub(super) fn families(delivery: &Delivery) -> Vec<MetricFamily> {
    let stats = delivery.cache().stats();
    let tiers: [(&str, &TierStats); 2] = [("memory", &stats.memory), ("disk", &stats.disk)];
    let per_tier = |name: &str, help: &str, kind, value: fn(&TierStats) -> u64| {
        family(
            name,
            help,
            kind,
            tiers
                .iter()
                .map(|(tier, t)| (Some(("tier", *tier)), value(t) as f64))
                .collect(),
        )
    };
    let mut families = vec![
        per_tier(
            "imgserver_cache_hits_total",
            "Variant lookups answered by a cache tier.",
            MetricType::COUNTER,
            |t| t.hits,
        ),
        per_tier(
            "imgserver_cache_misses_total",
            "Variant lookups a cache tier could not answer.",
            MetricType::COUNTER,
            |t| t.misses,
        ),
        per_tier(
            "imgserver_cache_evictions_total",
            "Variants evicted from a cache tier to stay within its budget.",
            MetricType::COUNTER,
            |t| t.evictions,
        ),
        per_tier(
            "imgserver_cache_bytes",
            "Bytes of variants held by a cache tier.",
            MetricType::GAUGE,
            |t| t.bytes,
        ),
        per_tier(
            "imgserver_cache_entries",
            "Variants held by a cache tier.",
            MetricType::GAUGE,
            |t| t.entries,
        ),
        per_tier(
            "imgserver_cache_capacity_bytes",
            "Byte budget of a cache tier.",
            MetricType::GAUGE,
            |t| t.budget_bytes,
        ),
        family(
            "imgserver_renders_total",
            "Renders started (one per cache miss, shared by concurrent requests).",
            MetricType::COUNTER,
            vec![(None, stats.renders as f64)],
        ),
        family(
            "imgserver_render_queue_depth",
            "Renders admitted to the render pool and not finished (running plus waiting).",
            MetricType::GAUGE,
            vec![(None, delivery.pool().in_flight() as f64)],
        ),
        family(
            "imgserver_render_queue_capacity",
            "Renders the pool admits at once (running plus waiting); beyond it: 503 overloaded.",
            MetricType::GAUGE,
            vec![(None, delivery.pool().capacity() as f64)],
        ),
    ];
    families.extend(delivery.pool().timings());
    families
}

type Sample<'a> = (Option<(&'a str, &'a str)>, f64);

fn family(name: &str, help: &str, kind: MetricType, samples: Vec<Sample<'_>>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(name.to_string());
    family.set_help(help.to_string());
    family.set_field_type(kind);
    for (label, value) in samples {
        let mut metric = Metric::default();
        if let Some((name, value)) = label {
            let mut pair = LabelPair::default();
            pair.set_name(name.to_string());
            pair.set_value(value.to_string());
            metric.set_label(vec![pair]);
        }
        match kind {
            MetricType::COUNTER => {
                let mut c = Counter::default();
                c.set_value(value);
                metric.set_counter(c);
            }
            _ => {
                let mut g = Gauge::default();
                g.set_value(value);
                metric.set_gauge(g);
            }
        }
        family.mut_metric().push(metric);
    }
    family
}
