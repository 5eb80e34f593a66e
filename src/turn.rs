//! Taking turns when a whole Auto Scaling group boots at once.
//!
//! 1. Each instance reads its group once and takes its rank (by instance ID).
//! 2. While the group is being made, rank r owns the r-th resource.
//! 3. A throttled first look is asked again at the rank's turn, not with
//!    backoff (see [`first_look`]).
//! 4. An instance in no group, or a rerun in the same boot, has no turn.
//!
//! Why: docs/design/turn.md.

use crate::aws::asg;
use crate::aws::Session;
use crate::wait::Deadline;
use anyhow::Result;
use std::time::Duration;

/// The time between two ranks' looks after a throttled one. EC2's
/// describe bucket refills 20 requests per second: one look per step keeps
/// a whole group inside it.
pub const STEP: Duration = Duration::from_millis(50);

/// The window over which the looks that EC2 throttled are asked again:
/// the last rank (or an unranked instance's largest share) waits this
/// long, whatever the group's size. Only the tail of a boot is throttled
/// (the bucket serves the rest), and which ranks fall in it depends on when
/// each instance booted, not on its rank: a window sized for the whole
/// group at the bucket's pace (15 s for 300) kept a late starter with a
/// high rank waiting long after the bucket had refilled (`make fleet`: p99
/// 2.15x the allowed time at 300). The few dozen throttled together still
/// come back fewer per second than the bucket refills; more than that, a
/// look throttled again waits its share of a window twice as long.
pub const WINDOW: Duration = Duration::from_secs(3);

/// How long after it was made, or taken, a resource counts as part of the
/// group being made now. Longer than any group's boot, far shorter than a
/// cluster's life.
pub const BEING_MADE: Duration = Duration::from_secs(120);

/// `at` (a creation or attachment time) lies within [`BEING_MADE`] of
/// `now`. Unknown times are old.
pub fn recent(at: Option<std::time::SystemTime>, now: std::time::SystemTime) -> bool {
    at.is_some_and(|t| now.duration_since(t).unwrap_or_default() < BEING_MADE)
}

/// This instance's place in its group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Turn {
    pub group: String,
    /// 0-based, among the members that are not leaving the group.
    pub rank: usize,
    pub members: usize,
    /// How long it waited for its turn (its first look was throttled).
    pub waited_seconds: f64,
}

impl Turn {
    /// Wait for this rank's turn; never more than a quarter of what is
    /// left of `deadline`.
    pub async fn wait(&mut self, deadline: &Deadline) {
        let wait = wait_of(
            self.rank,
            self.members,
            WINDOW.min(deadline.remaining() / 4),
        );
        log::info!(
            "EC2 is throttling the group's looks: turn {} of {} in {}, looking again in {:.2} s",
            self.rank + 1,
            self.members,
            self.group,
            wait.as_secs_f64()
        );
        tokio::time::sleep(wait).await;
        self.waited_seconds += wait.as_secs_f64();
    }
}

/// The wait of `rank` among `members`: a step per rank before it, the
/// steps shrunk so that the last rank waits no longer than `longest`.
pub fn wait_of(rank: usize, members: usize, longest: Duration) -> Duration {
    if members <= 1 {
        return Duration::ZERO;
    }
    let step = STEP.min(longest / (members - 1) as u32);
    step * rank as u32
}

/// The wait of an instance that has no rank (see [`unranked_wait`]).
pub async fn wait_unranked(me: &str) {
    let wait = unranked_wait(me, WINDOW);
    log::info!(
        "EC2 is throttling the group's looks: looking again in {:.2} s",
        wait.as_secs_f64()
    );
    tokio::time::sleep(wait).await;
}

/// How long an instance that has no rank yet waits after a throttled first
/// look: a share of `longest` fixed by its instance ID, so that the
/// instances throttled together look again spread out.
pub fn unranked_wait(me: &str, longest: Duration) -> Duration {
    longest.mul_f64((crate::spread::fnv1a(me.as_bytes()) % 1000) as f64 / 1000.0)
}

/// `me`'s rank among the group's members (by instance ID, an order every
/// member computes alike). An instance not listed yet (Auto Scaling is
/// eventually consistent) comes after all the listed ones.
pub fn rank_of(me: &str, members: &[String]) -> (usize, usize) {
    let mut ids: Vec<&str> = members.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    match ids.binary_search(&me) {
        Ok(rank) => (rank, ids.len()),
        Err(_) => (ids.len(), ids.len() + 1),
    }
}

/// How many times a first look is asked again, once each after waits of
/// its own, before the SDK's retries take over.
pub const LOOKS_AGAIN: u32 = 3;

/// A group member's first look: `look` asked once, through an EC2 client
/// without retries. If EC2 throttles it, `wait` (the instance's turn) runs
/// and the look is asked once more; throttled again (the tail of a group
/// whose looks EC2 still cannot serve), it waits its own share of a window
/// that doubles each time ([`unranked_wait`] over 3, then 6 s), then the
/// look is asked with the SDK's retries. Any other failure (a timeout
/// behind a busy endpoint, a 500) is asked again at once with retries.
pub async fn first_look<T, F, Fut>(
    aws: &crate::aws::Aws,
    me: &str,
    look: F,
    wait: impl std::future::Future<Output = ()>,
) -> Result<T>
where
    F: Fn(aws_sdk_ec2::Client) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    ask(aws, me, "this look", look, wait).await
}

/// A call that follows a first look in a group's boot (px-volume-claim's
/// creators describe the templates, create and attach), asked as a first
/// look is, its first wait the instance's share of the window for this
/// call (`what`) rather than a turn. Through the SDK's adaptive retries a
/// single throttled answer would enable its client-side limiter, which in
/// a process seconds old fills at its floor of half a request per second
/// while a retry costs five: every later call of the run waited seconds
/// (`make fleet`: the group's last volumes were made 8 s after their
/// creators' first throttle, p99 up to 1.97x the allowed time). Only for
/// calls that may be asked again as they are: reads, and writes that EC2
/// makes idempotent (a ClientToken) or refuses when repeated.
pub async fn patiently<T, F, Fut>(aws: &crate::aws::Aws, me: &str, what: &str, call: F) -> Result<T>
where
    F: Fn(aws_sdk_ec2::Client) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let key = format!("{me}/{what}");
    let wait = async {
        let wait = unranked_wait(&key, WINDOW);
        log::info!(
            "EC2 throttled {what}: asking again in {:.2} s",
            wait.as_secs_f64()
        );
        tokio::time::sleep(wait).await;
    };
    ask(aws, &key, what, call, wait).await
}

/// `call` once without retries; throttled, `wait`, then once more after
/// each of [`LOOKS_AGAIN`] - 1 windows of its own; then with the SDK's
/// retries (at once for any failure but a throttle).
async fn ask<T, F, Fut>(
    aws: &crate::aws::Aws,
    key: &str,
    what: &str,
    call: F,
    wait: impl std::future::Future<Output = ()>,
) -> Result<T>
where
    F: Fn(aws_sdk_ec2::Client) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let single = aws.ec2_single_attempt();
    let mut wait = Some(wait);
    for again in 0..=LOOKS_AGAIN {
        match call(single.clone()).await {
            Ok(found) => return Ok(found),
            Err(e) if crate::aws::is_throttled(&e) && again < LOOKS_AGAIN => match wait.take() {
                Some(turn) => turn.await,
                None => {
                    let window = WINDOW * (1 << (again - 1));
                    let wait = unranked_wait(&format!("{key}/{again}"), window);
                    log::info!(
                        "EC2 throttled {what} again: asking again in {:.2} s",
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait).await;
                }
            },
            Err(e) if crate::aws::is_throttled(&e) => break,
            Err(e) => {
                log::debug!("{what} failed ({e:#}); asking again with retries");
                break;
            }
        }
    }
    call(aws.ec2.clone()).await
}

/// This instance's turn in its group; `None` when it is in none.
pub async fn read(session: &Session) -> Result<Option<Turn>> {
    let client = aws_sdk_autoscaling::Client::new(&session.aws.sdk_config);
    let me = session.instance_id();
    let Some(group) = asg::group_of_session(&client, session).await? else {
        log::debug!("{me} is in no Auto Scaling group: no turn to take");
        return Ok(None);
    };
    let info = asg::describe_group(&client, &group).await?;
    let members: Vec<String> = info
        .members
        .iter()
        .filter(|m| !m.departing())
        .map(|m| m.instance_id.clone())
        .collect();
    let (rank, members) = rank_of(me, &members);
    log::info!(
        "{me}: rank {} of {members} in Auto Scaling group {group}",
        rank + 1
    );
    Ok(Some(Turn {
        group,
        rank,
        members,
        waited_seconds: 0.0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_instance_ids_and_strangers_come_last() {
        let members: Vec<String> = ["i-0c", "i-0a", "i-0b"].map(String::from).to_vec();
        assert_eq!(rank_of("i-0a", &members), (0, 3));
        assert_eq!(rank_of("i-0c", &members), (2, 3));
        assert_eq!(rank_of("i-0d", &members), (3, 4));
    }

    #[test]
    fn waits_step_by_rank_within_the_longest() {
        let longest = Duration::from_secs(15);
        assert_eq!(wait_of(0, 1, longest), Duration::ZERO);
        assert_eq!(wait_of(0, 100, longest), Duration::ZERO);
        assert_eq!(wait_of(99, 100, longest), STEP * 99);
        // A large group: the last rank waits the longest, no more.
        assert_eq!(wait_of(999, 1000, longest), longest / 999 * 999);
        assert!(wait_of(999, 1000, longest) <= longest);
        assert_eq!(wait_of(5, 10, Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn unranked_waits_are_stable_spread_and_bounded() {
        let longest = Duration::from_secs(3);
        assert_eq!(unranked_wait("i-1", longest), unranked_wait("i-1", longest));
        let waits: std::collections::BTreeSet<_> = (0..50)
            .map(|i| unranked_wait(&format!("i-{i:04x}"), longest))
            .collect();
        assert!(waits.len() > 40, "{waits:?}");
        assert!(waits.iter().all(|w| *w < longest));
    }
}
