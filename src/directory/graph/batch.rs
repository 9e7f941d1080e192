//! JSON batching: many Graph requests in `$batch` envelopes of up to 20, several envelopes in
//! flight, throttled items retried on their own.
//!
//! Graph answers a batch with 200 even when items fail, in any order; a throttled item has
//! status 429 and its own `Retry-After`. Such items (and 503/504 ones: not acted on) are put
//! back in the queue with a not-before time. When throttling appears the run slows down —
//! half as many envelopes in flight, nothing sent before the longest `Retry-After` — and speeds
//! up again by one envelope per quiet period.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use reqwest::{Method, Url};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::client::{GraphClient, Purpose};
use crate::directory::{BulkControl, DirectoryError};

/// Most requests Graph accepts in one `$batch`.
pub const MAX_BATCH: usize = 20;
/// Calm time after throttling before one more envelope may be in flight.
pub const QUIET: Duration = Duration::from_secs(2);
/// How often one item may be throttled before it fails (bounded by `--timeout` too).
pub const ITEM_RETRIES: u32 = 10;

/// One request to put in a batch.
#[derive(Debug, Clone)]
pub struct Item {
    pub method: Method,
    pub url: Url,
    pub body: Option<Value>,
}

/// A final answer for one item: its status and body (errors included, except throttling).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub request_id: Option<String>,
}

#[derive(Debug)]
pub enum ItemResult {
    Answered(Answer),
    /// Throttled past its budget, or the envelope itself failed.
    Failed(DirectoryError),
    NotAttempted,
}

struct Pending {
    idx: usize,
    attempts: u32,
    not_before: Instant,
    /// When the item was first sent: its retries end `--timeout` after that.
    since: Option<Instant>,
}

/// Backoff for an item throttled without `Retry-After`.
fn item_backoff(attempts: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempts.min(8)))
}

/// An item's own `Retry-After`, parsed like a response header's.
fn retry_after(headers: &Value) -> Option<Duration> {
    let v = headers
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))?
        .1;
    match v {
        Value::String(s) => crate::http::parse_retry_after(s),
        Value::Number(n) => crate::http::parse_retry_after(&n.to_string()),
        _ => None,
    }
}

/// One item's answer, taken out of the envelope.
struct ItemAnswer {
    status: u16,
    headers: Value,
    body: Value,
}

/// Pairs each request of `batch` with its answer in `body`, checking what Graph promises:
/// a `responses` list, each request answered exactly once by its id, a numeric status, and a
/// body on a successful read. A request that fails a check gets why.
fn match_answers(body: &Value, batch: &[Pending]) -> Vec<Result<ItemAnswer, String>> {
    let Some(responses) = body.get("responses").and_then(Value::as_array) else {
        return batch
            .iter()
            .map(|_| Err("the $batch answer has no \"responses\" list".into()))
            .collect();
    };
    let mut found: Vec<Vec<&Value>> = batch.iter().map(|_| Vec::new()).collect();
    for resp in responses {
        let pos = resp
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| batch.iter().position(|p| p.idx.to_string() == id));
        // An answer to a request not in this envelope is ignored (its own request, if any,
        // is then found unanswered).
        if let Some(pos) = pos {
            found[pos].push(resp);
        }
    }
    found
        .into_iter()
        .map(|answers| {
            let resp = match answers.as_slice() {
                [] => return Err("the $batch answer left this request out".into()),
                [one] => *one,
                _ => return Err("the $batch answer has this request's id more than once".into()),
            };
            let status = match resp.get("status") {
                Some(Value::Number(n)) => n
                    .as_u64()
                    .filter(|s| (100..=599).contains(s))
                    .ok_or_else(|| format!("its status {n} is not an HTTP status"))?,
                Some(other) => return Err(format!("its status is not a number ({other})")),
                None => return Err("it has no status".into()),
            } as u16;
            let body = resp.get("body").cloned().unwrap_or(Value::Null);
            Ok(ItemAnswer {
                status,
                headers: resp.get("headers").cloned().unwrap_or(Value::Null),
                body,
            })
        })
        .collect()
}

/// Envelopes in flight: each hands back its items and Graph's answer (or the failure).
type Flight = JoinSet<(Vec<Pending>, Result<Value, DirectoryError>)>;

/// Sends `items` in batches; `on_final` sees each item once, when its result is final.
pub async fn execute(
    client: &GraphClient,
    items: &[Item],
    concurrency: usize,
    purpose: Purpose,
    ctl: &BulkControl,
    on_final: impl FnMut(usize, &ItemResult),
) -> Vec<ItemResult> {
    let mut run = Run::new(client, items, concurrency, purpose, on_final);
    let mut in_flight = Flight::new();
    loop {
        let now = Instant::now();
        run.speed_up(now);
        let paced_until = run.dispatch(now, ctl, &mut in_flight);
        if in_flight.is_empty() {
            if run.queue.is_empty() || ctl.is_cancelled() {
                break;
            }
            let next = run
                .queue
                .iter()
                .map(|p| p.not_before)
                .min()
                .unwrap_or(now)
                .max(run.pause_until)
                .max(paced_until.unwrap_or(now));
            tokio::time::sleep_until(next.into()).await;
            continue;
        }
        // Wait for an envelope, or for a queued item to become ready when there is room.
        let wake = run
            .queue
            .iter()
            .map(|p| p.not_before)
            .min()
            .map(|t| t.max(run.pause_until).max(paced_until.unwrap_or(t)));
        let joined = match wake {
            Some(t) if in_flight.len() < run.limit => {
                tokio::select! {
                    j = in_flight.join_next() => j,
                    _ = tokio::time::sleep_until(t.into()) => continue,
                }
            }
            _ => in_flight.join_next().await,
        };
        let Some(Ok((batch, result))) = joined else {
            continue;
        };
        run.settle(batch, result, ctl);
    }
    run.results()
}

/// One `execute`: the queue, the results so far, and how many envelopes may be in flight.
struct Run<'a, F> {
    client: &'a GraphClient,
    items: &'a [Item],
    purpose: Purpose,
    batch_url: Url,
    /// Whether any item writes (writes are paced at the tenant's quota).
    writes: bool,
    max_limit: usize,
    limit: usize,
    pause_until: Instant,
    last_throttle: Option<Instant>,
    queue: VecDeque<Pending>,
    results: Vec<Option<ItemResult>>,
    on_final: F,
}

impl<'a, F: FnMut(usize, &ItemResult)> Run<'a, F> {
    fn new(
        client: &'a GraphClient,
        items: &'a [Item],
        concurrency: usize,
        purpose: Purpose,
        on_final: F,
    ) -> Self {
        let start = Instant::now();
        Run {
            client,
            items,
            purpose,
            batch_url: client.url(&["$batch"]),
            writes: items.iter().any(|i| i.method != Method::GET),
            max_limit: concurrency.max(1),
            limit: concurrency.max(1),
            pause_until: start,
            last_throttle: None,
            queue: (0..items.len())
                .map(|idx| Pending {
                    idx,
                    attempts: 0,
                    not_before: start,
                    since: None,
                })
                .collect(),
            results: (0..items.len()).map(|_| None).collect(),
            on_final,
        }
    }

    fn finish(&mut self, idx: usize, r: ItemResult) {
        (self.on_final)(idx, &r);
        self.results[idx] = Some(r);
    }

    /// One more envelope in flight after each quiet period without throttling.
    fn speed_up(&mut self, now: Instant) {
        if self.limit < self.max_limit
            && self
                .last_throttle
                .is_none_or(|t| now.duration_since(t) >= QUIET)
        {
            self.limit += 1;
            self.last_throttle = Some(now);
            self.client.http.log(
                1,
                &format!(
                    "no throttling for {} s: up to {} batches in flight",
                    QUIET.as_secs(),
                    self.limit
                ),
            );
        }
    }

    /// Sends as many envelopes as the limit (and, for writes, the pacer) allows; when the
    /// pacer holds them back, until when.
    fn dispatch(
        &mut self,
        now: Instant,
        ctl: &BulkControl,
        in_flight: &mut Flight,
    ) -> Option<Instant> {
        while !ctl.is_cancelled() && in_flight.len() < self.limit && now >= self.pause_until {
            let room = if self.writes {
                let ready = self.queue.iter().filter(|p| p.not_before <= now).count();
                match self.client.pacer.admit(ready.min(MAX_BATCH), now) {
                    Ok(n) => n,
                    Err(until) => return Some(until),
                }
            } else {
                MAX_BATCH
            };
            let batch = self.take_ready(room, now);
            if self.writes && batch.len() < room {
                self.client.pacer.unadmit(room - batch.len());
            }
            if batch.is_empty() {
                break;
            }
            let envelope = self.envelope(&batch);
            let c = self.client.clone();
            let url = self.batch_url.clone();
            let purpose = self.purpose;
            in_flight.spawn(async move {
                let r = c
                    .send(Method::POST, &url, Some(&envelope), purpose)
                    .await
                    .map(|resp| resp.body.unwrap_or(Value::Null));
                (batch, r)
            });
        }
        None
    }

    /// Up to `room` queued items that are ready at `now`, in queue order.
    fn take_ready(&mut self, room: usize, now: Instant) -> Vec<Pending> {
        let mut batch = Vec::new();
        let mut rest = VecDeque::with_capacity(self.queue.len());
        while let Some(p) = self.queue.pop_front() {
            if batch.len() < room && p.not_before <= now {
                batch.push(Pending {
                    since: p.since.or(Some(now)),
                    ..p
                });
            } else {
                rest.push_back(p);
            }
            if batch.len() == room {
                rest.extend(self.queue.drain(..));
            }
        }
        self.queue = rest;
        batch
    }

    /// The `$batch` body for `batch`: each request's id is its item's index.
    fn envelope(&self, batch: &[Pending]) -> Value {
        let requests: Vec<Value> = batch
            .iter()
            .map(|p| {
                let item = &self.items[p.idx];
                let mut r = json!({"id": p.idx.to_string(), "method": item.method.as_str(), "url": self.client.relative(&item.url)});
                if let Some(body) = &item.body {
                    r["headers"] = json!({"Content-Type": "application/json"});
                    r["body"] = body.clone();
                }
                r
            })
            .collect();
        json!({ "requests": requests })
    }

    /// An envelope came back: each item is final, or queued again when throttled.
    fn settle(
        &mut self,
        batch: Vec<Pending>,
        result: Result<Value, DirectoryError>,
        ctl: &BulkControl,
    ) {
        let now = Instant::now();
        let body = match result {
            Ok(body) => body,
            Err(e) => {
                // An expired token that can't be renewed stops the run: nothing of this
                // envelope was applied, so its items are not attempted, like the rest.
                let stop = ctl.stops_run(&e);
                for p in batch {
                    let r = if stop {
                        ItemResult::NotAttempted
                    } else {
                        ItemResult::Failed(e.duplicate())
                    };
                    self.finish(p.idx, r);
                }
                return;
            }
        };
        let mut throttled_for: Option<Duration> = None;
        for (p, answer) in batch.iter().zip(match_answers(&body, &batch)) {
            let resp = match answer {
                Ok(resp) => resp,
                Err(why) => {
                    let item = &self.items[p.idx];
                    let e = super::client::malformed(
                        &Method::POST,
                        &self.batch_url,
                        &format!(
                            "for {} {}: {why}",
                            item.method,
                            self.client.relative(&item.url)
                        ),
                        None,
                    );
                    self.finish(p.idx, ItemResult::Failed(e));
                    continue;
                }
            };
            if let Some(wait) = self.answered(p, resp, now) {
                throttled_for = Some(throttled_for.map_or(wait, |w| w.max(wait)));
            }
        }
        if let Some(wait) = throttled_for {
            self.slow_down(wait, now);
        }
    }

    /// One item's answer: final, or (throttled) queued again. Returns the wait it was asked for
    /// when it was throttled.
    fn answered(&mut self, p: &Pending, resp: ItemAnswer, now: Instant) -> Option<Duration> {
        let status = resp.status;
        if !matches!(status, 429 | 503 | 504) {
            let request_id = resp
                .headers
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("request-id")))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_string);
            let answer = Answer {
                status,
                body: resp.body,
                request_id,
            };
            self.finish(p.idx, ItemResult::Answered(answer));
            return None;
        }
        let wait = retry_after(&resp.headers).unwrap_or_else(|| item_backoff(p.attempts));
        if status == 429 {
            self.client.pacer.throttled(now, wait);
        }
        let since = p.since.unwrap_or(now);
        let left = (since + self.client.http.policy.total).saturating_duration_since(now);
        if p.attempts < ITEM_RETRIES && wait < left {
            self.queue.push_back(Pending {
                idx: p.idx,
                attempts: p.attempts + 1,
                not_before: now + wait,
                since: Some(since),
            });
            return Some(wait);
        }
        let item = &self.items[p.idx];
        let e = self.client.error_for(
            &item.method,
            &item.url,
            status,
            resp.body.to_string().as_bytes(),
            None,
            self.purpose,
        );
        self.finish(p.idx, ItemResult::Failed(e));
        Some(wait)
    }

    /// Throttled: half as many envelopes in flight, and nothing sent for `wait`.
    fn slow_down(&mut self, wait: Duration, now: Instant) {
        self.limit = (self.limit / 2).max(1);
        self.pause_until = self.pause_until.max(now + wait);
        self.last_throttle = Some(now);
        self.client.http.log(
            1,
            &format!(
                "throttled: down to {} batches in flight, nothing sent for {:.2} s",
                self.limit,
                wait.as_secs_f64()
            ),
        );
    }

    /// Every item's result; what is still queued was not attempted.
    fn results(mut self) -> Vec<ItemResult> {
        for p in std::mem::take(&mut self.queue) {
            self.finish(p.idx, ItemResult::NotAttempted);
        }
        self.results
            .into_iter()
            .map(|r| r.unwrap_or(ItemResult::NotAttempted))
            .collect()
    }
}
