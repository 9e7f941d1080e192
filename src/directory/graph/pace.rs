//! Pacing writes at the tenant's write quota.
//!
//! Graph counts every write (each `$batch` item) against a sliding window per app and tenant
//! (documented: 3,000 per 150 s) and, once more than 80% of it is used, says how much in
//! `x-ms-throttle-limit-percentage` (0.8–1.8). Reacting only to 429s wastes the requests that
//! are refused and stalls the run; instead the pacer keeps a budget of writes it may still send:
//!
//! - no sign of a quota yet: no limit (a run may use the window's free budget at once);
//! - the first percentage `p` gives the quota's size, `L ≈ writes acknowledged / p` (the burst
//!   that got there is far shorter than the window);
//! - every answer then sets the budget to `(TARGET − p) × L` minus the writes in flight (an
//!   answer without the header means under 80%: `(TARGET − 0.8) × L`), so the run uses the
//!   window up to [`TARGET`] and then sends only as fast as old writes leave it;
//! - with no budget, one write at a time probes the window every [`PROBE`] (its answer carries
//!   the new percentage); a 429's `Retry-After` blocks every write until then.
//!
//! The per-item `Retry-After` handling in [`super::batch`] stays: the pacer only makes 429s rare.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::diag::Log;

/// Graph's documented write quota per app and tenant, as a rate (3,000 per 150 s), for
/// estimates of how long a run takes.
pub const QUOTA_WRITES_PER_SECOND: f64 = 20.0;
/// Share of the quota the pacer fills before it slows to the rate writes leave the window:
/// all of it. The budget counts the pacer's own writes in flight, so it does not overshoot;
/// when another writer of the same app does, the one 429 that follows carries the exact time
/// the window frees up (`Retry-After`), and nothing is sent before then. (A lower target
/// costs a whole window whenever a run is a multiple of the quota.)
pub const TARGET: f64 = 1.0;
/// Below this share Graph sends no percentage header.
pub const HEADER_FROM: f64 = 0.8;
/// How often one write probes a full window.
pub const PROBE: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct State {
    /// Write items sent in all.
    sent: u64,
    /// Write items sent and not yet answered.
    in_flight: u64,
    /// The quota's estimated size, once a percentage was seen.
    limit: Option<f64>,
    /// Write items that may still be sent; `None`: no sign of a quota yet.
    budget: Option<f64>,
    /// A 429's `Retry-After`: nothing before this.
    blocked_until: Option<Instant>,
    next_probe: Option<Instant>,
}

/// The write pacer of one run (shared by every request of a Graph client).
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
    log: Log,
}

impl Pacer {
    pub fn new(log: impl Into<Log>) -> Self {
        Pacer {
            state: Mutex::new(State {
                sent: 0,
                in_flight: 0,
                limit: None,
                budget: None,
                blocked_until: None,
                next_probe: None,
            }),
            log: log.into(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many of `want` writes may be sent now (at least one when any), or when to ask again.
    pub fn admit(&self, want: usize, now: Instant) -> Result<usize, Instant> {
        if want == 0 {
            return Ok(0);
        }
        let mut s = self.state();
        if let Some(until) = s.blocked_until {
            if now < until {
                return Err(until);
            }
            s.blocked_until = None;
        }
        let n = match s.budget {
            None => want,
            Some(b) if b >= 1.0 => want.min(b as usize),
            Some(_) => {
                let due = s.next_probe.is_none_or(|t| now >= t);
                if s.in_flight > 0 || !due {
                    let at = s
                        .next_probe
                        .unwrap_or(now)
                        .max(now + Duration::from_millis(10));
                    s.next_probe = Some(at);
                    return Err(at);
                }
                s.next_probe = Some(now + PROBE);
                1
            }
        };
        s.sent += n as u64;
        s.in_flight += n as u64;
        if let Some(b) = &mut s.budget {
            *b = (*b - n as f64).max(0.0);
        }
        Ok(n)
    }

    /// Gives back writes admitted but not sent.
    pub fn unadmit(&self, n: usize) {
        let mut s = self.state();
        s.sent = s.sent.saturating_sub(n as u64);
        s.in_flight = s.in_flight.saturating_sub(n as u64);
        if let Some(b) = &mut s.budget {
            *b += n as f64;
        }
    }

    /// Waits until one write may be sent (single requests outside `$batch`).
    pub async fn one(&self) {
        loop {
            match self.admit(1, Instant::now()) {
                Ok(_) => return,
                Err(at) => tokio::time::sleep_until(at.into()).await,
            }
        }
    }

    /// An answer to a request that carried `writes` write items, with the quota percentage
    /// it reported (`None`: no header, under 80%).
    pub fn answered(&self, writes: usize, percentage: Option<f64>) {
        let mut s = self.state();
        s.in_flight = s.in_flight.saturating_sub(writes as u64);
        let p = match percentage {
            Some(p) if p.is_finite() && p > 0.0 => p.min(10.0),
            Some(_) => return,
            None => {
                if writes > 0
                    && let Some(limit) = s.limit
                {
                    let budget = (TARGET - HEADER_FROM) * limit - s.in_flight as f64;
                    s.budget = Some(budget.max(0.0).round());
                }
                return;
            }
        };
        if s.limit.is_none() {
            let acknowledged = (s.sent - s.in_flight).max(1) as f64;
            let limit = acknowledged / p;
            s.limit = Some(limit);
            self.log.log(
                1,
                &format!(
                    "write quota {:.0}% used (x-ms-throttle-limit-percentage): pacing writes to a quota of about {limit:.0}",
                    p * 100.0
                ),
            );
        }
        let limit = s.limit.expect("set above");
        let budget = ((TARGET - p) * limit - s.in_flight as f64).max(0.0).round();
        s.budget = Some(budget);
        self.log.log(
            2,
            &format!(
                "write quota {:.1}%: {:.0} writes may be sent",
                p * 100.0,
                budget.max(0.0)
            ),
        );
    }

    /// A write answered 429: nothing more until `wait` has passed.
    pub fn throttled(&self, now: Instant, wait: Duration) {
        let mut s = self.state();
        let until = now.checked_add(wait).unwrap_or(now);
        s.blocked_until = Some(s.blocked_until.map_or(until, |t| t.max(until)));
        s.budget = Some(0.0);
        if s.limit.is_none() {
            s.limit = Some((s.sent - s.in_flight).max(1) as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer() -> Pacer {
        Pacer::new(Log::silent())
    }

    #[test]
    fn unlimited_until_the_header_then_fills_to_the_target() {
        let p = pacer();
        let t = Instant::now();
        assert_eq!(p.admit(20, t), Ok(20));
        p.answered(20, None);
        // 2,400 writes acknowledged, then the header says 80%: the quota is 3,000.
        for _ in 0..118 {
            assert_eq!(p.admit(20, t), Ok(20));
            p.answered(20, None);
        }
        assert_eq!(p.admit(20, t), Ok(20));
        p.answered(20, Some(0.8));
        // Budget: (1.0 - 0.8) × 3000 = 600.
        let mut sent = 0;
        while let Ok(n) = p.admit(20, t) {
            assert!(n > 0);
            sent += n;
            if sent > 1000 {
                break;
            }
        }
        assert_eq!(sent, 600);
        // Full: one probe at a time once the in-flight ones are answered.
        p.answered(600, Some(1.0));
        let later = t + Duration::from_secs(1);
        assert_eq!(p.admit(20, later), Ok(1));
        assert!(p.admit(20, later).is_err());
        p.answered(1, Some(0.98));
        assert_eq!(p.admit(100, later), Ok(60));
    }

    #[test]
    fn a_429_blocks_until_its_retry_after() {
        let p = pacer();
        let t = Instant::now();
        assert_eq!(p.admit(5, t), Ok(5));
        p.throttled(t, Duration::from_secs(2));
        p.answered(5, None);
        assert_eq!(
            p.admit(1, t + Duration::from_secs(1)),
            Err(t + Duration::from_secs(2))
        );
        assert_eq!(p.admit(3, t + Duration::from_secs(2)), Ok(1));
    }
}
