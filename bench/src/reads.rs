//! Measuring partner reads: a read's cost (DynamoDB calls, items and bytes read, answer
//! bytes: from its first request) and its p50, at one partnership size or at both.
//!
//! A read at both sizes takes its samples in alternation, one at 1,000 accounts, one at
//! 10,000, so that both p50s come from the same minutes of DynamoDB Local. Its BatchGetItem
//! of one and the same 100 keys answers in about 3–4 ms or in about 8–10 ms and switches
//! between the two over a run, on a table of 2,000 items as on these (measured with a raw
//! HTTP client as well): sampled one size after the other, a read's two p50s could come
//! from different modes and differ by 1.6× with the same calls and items.

use std::time::{Duration, Instant};

use api_tests::Partner;

/// Samples per p50 (per size).
const SAMPLES: usize = 60;
/// The two partnership sizes compared.
pub const SIZES: [usize; 2] = [1_000, 10_000];

type Failure = Box<dyn std::error::Error>;

/// A read at both sizes: `(partner, path)` at 1,000 accounts, then at 10,000.
pub type Pair<'a> = [(&'a Partner<'a>, &'a str); 2];

/// Prints `{name}_{size}{suffix}_*` for both sizes: each one's cost, then the p50s of
/// samples taken in alternation.
pub async fn compare(name: &str, suffix: &str, pair: Pair<'_>) -> Result<(), Failure> {
    let figure = |size: usize| format!("{name}_{size}{suffix}");
    for (size, (partner, path)) in SIZES.into_iter().zip(pair) {
        print_cost(&figure(size), partner, path).await?;
    }
    let mut samples = [Vec::with_capacity(SAMPLES), Vec::with_capacity(SAMPLES)];
    for round in 0..SAMPLES {
        // Each size comes first in every other round.
        for step in 0..2 {
            let side = (round + step) % 2;
            let (partner, path) = pair[side];
            samples[side].push(timed_get(partner, path).await?);
        }
    }
    for (size, samples) in SIZES.into_iter().zip(samples) {
        println!("{}_p50_ms: {:.1}", figure(size), p50_ms(samples));
    }
    Ok(())
}

/// The first page (`_first`) and the deepest full page (`_last`, reached by following
/// `_links.next`) of a list at both sizes.
pub async fn compare_pages(name: &str, [small, large]: Pair<'_>) -> Result<(), Failure> {
    compare(name, "_first", [small, large]).await?;
    let small_deepest = deepest_full_page(small.0, small.1).await;
    let large_deepest = deepest_full_page(large.0, large.1).await;
    compare(
        name,
        "_last",
        [(small.0, &small_deepest), (large.0, &large_deepest)],
    )
    .await
}

/// Prints `{name}_*`: the cost and p50 of `path` at one size.
pub async fn measure(name: &str, partner: &Partner<'_>, path: &str) -> Result<(), Failure> {
    print_cost(name, partner, path).await?;
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        samples.push(timed_get(partner, path).await?);
    }
    println!("{name}_p50_ms: {:.1}", p50_ms(samples));
    Ok(())
}

/// The first and the deepest full page of a list at one size, as `{name}_first` and
/// `{name}_last`.
pub async fn measure_pages(name: &str, partner: &Partner<'_>, first: &str) -> Result<(), Failure> {
    measure(&format!("{name}_first"), partner, first).await?;
    let deepest = deepest_full_page(partner, first).await;
    measure(&format!("{name}_last"), partner, &deepest).await
}

/// The last page of a list, unless that one holds fewer items than a page (then the one
/// before it), so that page sizes compare alike between partnership sizes.
async fn deepest_full_page(partner: &Partner<'_>, first: &str) -> String {
    let (mut page_path, mut deepest_full) = (first.to_owned(), first.to_owned());
    loop {
        let page = partner.get(&page_path).await;
        let shown = page.body["_data"].as_array().map_or(0, Vec::len);
        let limit = page.body["_meta"]["limit"].as_u64().unwrap_or(0);
        if u64::try_from(shown).is_ok_and(|shown| shown == limit) {
            deepest_full.clone_from(&page_path);
        }
        match page.body["_links"]["next"]["href"].as_str() {
            Some(next) => page_path = next.replacen("http://api.example.com", "", 1),
            None => return deepest_full,
        }
    }
}

/// Calls, items and bytes read (counted by the store) and answer bytes of one request.
async fn print_cost(name: &str, partner: &Partner<'_>, path: &str) -> Result<(), Failure> {
    let store = &partner.t.app.store;
    let (calls, items, bytes) = (store.calls(), store.items_read(), store.bytes_read());
    let first = partner.get(path).await;
    if first.status != 200 {
        return Err(format!("{path} answered {}: {}", first.status, first.body).into());
    }
    println!("{name}_ddb_calls: {}", store.calls() - calls);
    println!("{name}_items_read: {}", store.items_read() - items);
    println!("{name}_bytes_read: {}", store.bytes_read() - bytes);
    println!("{name}_response_bytes: {}", first.body.to_string().len());
    Ok(())
}

async fn timed_get(partner: &Partner<'_>, path: &str) -> Result<Duration, Failure> {
    let started = Instant::now();
    let response = partner.get(path).await;
    let elapsed = started.elapsed();
    if response.status != 200 {
        return Err(format!("{path} answered {}", response.status).into());
    }
    Ok(elapsed)
}

fn p50_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    crate::percentile(&samples, 50).as_secs_f64() * 1000.0
}
