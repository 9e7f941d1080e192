//! A hybrid bulk write: each planned row split into its AD half (a synchronised user's phones)
//! and its Graph half (everything else, and cloud-only users), the halves run side by side
//! with controls of their own, and the outcomes joined back per row.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{HybridDirectory, Link, split, with_note};
#[cfg(test)]
use crate::directory::DirectoryError;
use crate::directory::{BulkControl, Current, Directory, Outcome, Planned};
use crate::plan::AuthPlan;

/// The two halves of a bulk run: the items and, for each, the row it came from.
#[derive(Default)]
struct Halves {
    graph: Vec<Planned>,
    graph_rows: Vec<usize>,
    ad: Vec<Planned>,
    ad_rows: Vec<usize>,
    /// Rows whose AD half can't run: the domain controller could not be reached.
    ad_failed: Vec<usize>,
}

fn halves(dir: &HybridDirectory, items: &[Planned]) -> Halves {
    let mut h = Halves::default();
    for (i, p) in items.iter().enumerate() {
        let ad = match dir.link_of(&p.current.user) {
            Some(Link::Linked { ad, .. }) => Some(ad),
            Some(Link::AdUnavailable) => None,
            _ => {
                h.graph.push(p.clone());
                h.graph_rows.push(i);
                continue;
            }
        };
        let (phones, rest) = split(&p.user_plan);
        if !phones.patch.is_empty() && ad.is_none() {
            h.ad_failed.push(i);
        } else if let Some(ad) = ad.filter(|_| !phones.patch.is_empty()) {
            h.ad.push(Planned {
                current: Current {
                    user: *ad,
                    auth: None,
                },
                update: Default::default(),
                auth_update: Default::default(),
                user_plan: phones,
                auth_plan: AuthPlan::default(),
            });
            h.ad_rows.push(i);
        }
        if !rest.patch.is_empty() || !p.auth_plan.patch.is_empty() {
            h.graph.push(Planned {
                user_plan: rest,
                ..p.clone()
            });
            h.graph_rows.push(i);
        }
    }
    h
}

/// A control of one half: its own stop and counters, the run's limits.
fn child(ctl: &BulkControl) -> BulkControl {
    BulkControl {
        concurrency: ctl.concurrency,
        auth_concurrency: ctl.auth_concurrency,
        ..BulkControl::default()
    }
}

/// Runs both halves side by side; one outcome per item, in order.
pub async fn apply(dir: &HybridDirectory, items: &[Planned], ctl: &BulkControl) -> Vec<Outcome> {
    let h = halves(dir, items);
    let (g_ctl, a_ctl) = (child(ctl), child(ctl));
    let base = ctl.done.load(Ordering::Relaxed);
    let total = h.graph.len() + h.ad.len();
    let run = async {
        let ad = async {
            match &dir.ad {
                Ok(dc) => dc.apply_many(&h.ad, &a_ctl).await,
                Err(_) => Vec::new(),
            }
        };
        tokio::join!(dir.graph.apply_many(&h.graph, &g_ctl), ad)
    };
    // While the halves run: Ctrl-C reaches both, and progress moves with the writes.
    let watch = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if ctl.is_cancelled() {
                g_ctl.cancelled.store(true, Ordering::SeqCst);
                a_ctl.cancelled.store(true, Ordering::SeqCst);
            }
            let done = g_ctl.done.load(Ordering::Relaxed) + a_ctl.done.load(Ordering::Relaxed);
            let rows = done * items.len() / total.max(1);
            ctl.done
                .store(base + rows.min(items.len()), Ordering::Relaxed);
        }
    };
    let (g_out, a_out) = tokio::select! {
        r = run => r,
        () = watch => unreachable!("the watch never ends"),
    };
    ctl.done.store(base, Ordering::Relaxed);
    // An expired token ends the whole run; a domain controller that is down fails only the
    // rows with AD writes (its other rows are not attempted: said as the DC's failure).
    if let Some(e) = g_ctl.stop_reason() {
        ctl.stop(e);
    }
    let ad_down = a_ctl.stop_reason();
    let mut per_row: Vec<(Option<Outcome>, Option<Outcome>)> =
        items.iter().map(|_| (None, None)).collect();
    for (row, o) in h.graph_rows.into_iter().zip(g_out) {
        per_row[row].0 = Some(o);
    }
    for (row, o) in h.ad_rows.into_iter().zip(a_out) {
        let o = match (o, &ad_down) {
            (Outcome::NotAttempted, Some(e)) if !ctl.is_cancelled() => {
                Outcome::Failed(e.duplicate())
            }
            (o, _) => o,
        };
        per_row[row].1 = Some(o);
    }
    for row in h.ad_failed {
        per_row[row].1 = Some(Outcome::Failed(dir.ad_error()));
    }
    per_row
        .into_iter()
        .map(|(g, a)| {
            let o = joined(g, a);
            ctl.record(&o);
            o
        })
        .collect()
}

/// One row's outcome from its halves' (Graph, AD).
fn joined(g: Option<Outcome>, a: Option<Outcome>) -> Outcome {
    use Outcome::*;
    let written = |o: &Option<Outcome>| matches!(o, Some(Updated(_)));
    match (g, a) {
        (Some(Failed(e)), other) => {
            if written(&other) {
                Failed(with_note(e, "the phones were written to AD"))
            } else {
                Failed(e)
            }
        }
        (other, Some(Failed(e))) => {
            if written(&other) {
                Failed(with_note(e, "the rest of the row was written to Entra ID"))
            } else {
                Failed(e)
            }
        }
        (Some(NotAttempted), _) | (_, Some(NotAttempted)) => NotAttempted,
        (Some(Updated(mut f)), Some(Updated(more))) => {
            f.extend(more);
            Updated(f)
        }
        (Some(Updated(f)), _) | (_, Some(Updated(f))) => Updated(f),
        _ => Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_fails_when_either_half_fails_and_says_what_was_written() {
        let e = || DirectoryError::Unsupported("x".into());
        match joined(
            Some(Outcome::Updated(vec!["a"])),
            Some(Outcome::Failed(e())),
        ) {
            Outcome::Failed(DirectoryError::Storage { message, .. }) => {
                assert!(message.contains("written to Entra ID"), "{message}")
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(
            joined(Some(Outcome::Updated(vec!["a"])), Some(Outcome::Updated(vec!["b"]))),
            Outcome::Updated(f) if f == ["a", "b"]
        ));
        assert!(matches!(
            joined(None, Some(Outcome::Unchanged)),
            Outcome::Unchanged
        ));
    }
}
